//! The pull parser behind [`Reader`]: quick-xml events turned into
//! channels and programmes, one element at a time, with the open-element
//! stack, the text accumulator and the limits that bound memory.

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};

use super::counting::Counting;
use super::time::parse_time;
use super::types::{
    Channel, DisplayName, Item, MAX_DEPTH, MAX_EVENT_BYTES, MAX_LIST_LEN, MAX_TEXT_BYTES,
    Programme, XmltvError,
};

/// Elements the reader looks at; everything else is skipped whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Tv,
    Channel,
    Programme,
    DisplayName,
    Icon,
    Url,
    Lcn,
    Title,
    SubTitle,
    Desc,
    Category,
    EpisodeNum,
    Rating,
    Value,
    Other,
}

impl Tag {
    fn of(local: &[u8]) -> Tag {
        match local {
            b"tv" => Tag::Tv,
            b"channel" => Tag::Channel,
            b"programme" => Tag::Programme,
            b"display-name" => Tag::DisplayName,
            b"icon" => Tag::Icon,
            b"url" => Tag::Url,
            b"lcn" => Tag::Lcn,
            b"title" => Tag::Title,
            b"sub-title" => Tag::SubTitle,
            b"desc" => Tag::Desc,
            b"category" => Tag::Category,
            b"episode-num" => Tag::EpisodeNum,
            b"rating" => Tag::Rating,
            b"value" => Tag::Value,
            _ => Tag::Other,
        }
    }
}

/// The attributes of the elements the reader looks at.
#[derive(Debug, Default)]
struct Attrs {
    id: Option<String>,
    lang: Option<String>,
    src: Option<String>,
    system: Option<String>,
    channel: Option<String>,
    start: Option<String>,
    stop: Option<String>,
}

/// One pulled event, owning what it needs, so the buffer can be reused.
enum Ev {
    Start(Tag, Attrs),
    Empty(Tag, Attrs),
    End,
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    BeforeRoot,
    InRoot,
    Done,
}

/// Pulls channels and programmes from an XMLTV document.
pub struct Reader<R: BufRead> {
    xml: quick_xml::Reader<Counting<R>>,
    buf: Vec<u8>,
    /// Open elements (a name and its line), at most `MAX_DEPTH`.
    stack: Vec<(String, u64)>,
    /// Text of the element being read, when `collect` is set.
    text: String,
    collect: bool,
    phase: Phase,
    skipped: usize,
}

/// Capacity the event buffer is shrunk back to after a large event.
const BUF_KEEP: usize = 64 * 1024;

impl<R: BufRead> Reader<R> {
    pub fn new(r: R) -> Self {
        let mut xml = quick_xml::Reader::from_reader(Counting::new(r, MAX_EVENT_BYTES));
        let config = xml.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        Reader {
            xml,
            buf: Vec::with_capacity(8 * 1024),
            stack: Vec::new(),
            text: String::new(),
            collect: false,
            phase: Phase::BeforeRoot,
            skipped: 0,
        }
    }

    /// Programmes (and channels without an id) skipped so far.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The source the reader pulls from.
    pub(super) fn source(&self) -> &R {
        self.xml.get_ref().get_ref()
    }

    /// Bytes of the document read so far (for progress).
    pub fn position(&self) -> u64 {
        self.xml.buffer_position()
    }

    /// The next channel or programme; `Ok(None)` at the end of `<tv>`.
    /// After an error the reader is spent and returns `Ok(None)`.
    #[allow(clippy::should_implement_trait)] // fallible: `Result<Option<_>>`, not `Option`
    pub fn next(&mut self) -> Result<Option<Item>, XmltvError> {
        let out = self.next_inner();
        if out.is_err() {
            self.phase = Phase::Done;
        }
        out
    }

    fn next_inner(&mut self) -> Result<Option<Item>, XmltvError> {
        loop {
            match self.phase {
                Phase::Done => return Ok(None),
                Phase::BeforeRoot => match self.pull()? {
                    Ev::Start(Tag::Tv, _) => self.phase = Phase::InRoot,
                    Ev::Empty(Tag::Tv, _) => self.phase = Phase::Done,
                    Ev::Start(..) | Ev::Empty(..) => {
                        let found = self.stack.last().map(|(n, _)| n.clone());
                        return Err(self.root_not_tv(found.unwrap_or_default()));
                    }
                    // quick-xml refuses an end tag with nothing open.
                    Ev::End => return Err(self.not_xml("an end tag before the root element")),
                    Ev::Eof => return Err(self.not_xml("no root element")),
                },
                Phase::InRoot => match self.pull()? {
                    Ev::Start(Tag::Channel, a) => {
                        if let Some(c) = self.channel(a, false)? {
                            return Ok(Some(Item::Channel(c)));
                        }
                    }
                    Ev::Empty(Tag::Channel, a) => {
                        if let Some(c) = self.channel(a, true)? {
                            return Ok(Some(Item::Channel(c)));
                        }
                    }
                    Ev::Start(Tag::Programme, a) => {
                        if let Some(p) = self.programme(a, false)? {
                            return Ok(Some(Item::Programme(p)));
                        }
                    }
                    Ev::Empty(Tag::Programme, a) => {
                        if let Some(p) = self.programme(a, true)? {
                            return Ok(Some(Item::Programme(p)));
                        }
                    }
                    Ev::Start(..) => self.skip_element()?,
                    Ev::Empty(..) => {}
                    // Only `</tv>` can close at this depth.
                    Ev::End => self.phase = Phase::Done,
                    Ev::Eof => return Err(self.truncated()),
                },
            }
        }
    }

    fn channel(&mut self, a: Attrs, empty: bool) -> Result<Option<Channel>, XmltvError> {
        let mut c = Channel {
            id: a.id.unwrap_or_default(),
            display_names: Vec::new(),
            icon: None,
            lcn: None,
            urls: Vec::new(),
        };
        let mut done = empty;
        while !done {
            match self.pull()? {
                Ev::Start(Tag::DisplayName, a) => {
                    let name = self.read_text()?;
                    if !name.is_empty() {
                        push_bounded(&mut c.display_names, DisplayName { name, lang: a.lang });
                    }
                }
                Ev::Start(Tag::Url, _) => {
                    let url = self.read_text()?;
                    if !url.is_empty() {
                        push_bounded(&mut c.urls, url);
                    }
                }
                Ev::Start(Tag::Lcn, _) => {
                    let lcn = self.read_text()?;
                    c.lcn = c.lcn.or(Some(lcn).filter(|l| !l.is_empty()));
                }
                Ev::Start(Tag::Icon, a) => {
                    c.icon = c.icon.or(a.src);
                    self.skip_element()?;
                }
                Ev::Empty(Tag::Icon, a) => c.icon = c.icon.or(a.src),
                Ev::Start(..) => self.skip_element()?,
                Ev::Empty(..) => {}
                Ev::End => done = true,
                Ev::Eof => return Err(self.truncated()),
            }
        }
        if c.id.is_empty() {
            self.skipped += 1;
            return Ok(None);
        }
        Ok(Some(c))
    }

    fn programme(&mut self, a: Attrs, empty: bool) -> Result<Option<Programme>, XmltvError> {
        let mut title = None;
        let (mut sub_title, mut desc, mut icon, mut rating) = (None, None, None, None);
        let mut categories = Vec::new();
        let mut episode_num = Vec::new();
        let mut done = empty;
        while !done {
            match self.pull()? {
                Ev::Start(Tag::Title, _) => first_text(&mut title, self.read_text()?),
                Ev::Start(Tag::SubTitle, _) => first_text(&mut sub_title, self.read_text()?),
                Ev::Start(Tag::Desc, _) => first_text(&mut desc, self.read_text()?),
                Ev::Start(Tag::Category, _) => {
                    let c = self.read_text()?;
                    if !c.is_empty() {
                        push_bounded(&mut categories, c);
                    }
                }
                Ev::Start(Tag::EpisodeNum, a) => {
                    let value = self.read_text()?;
                    if !value.is_empty() {
                        let system = a.system.unwrap_or_else(|| "onscreen".into());
                        push_bounded(&mut episode_num, (system, value));
                    }
                }
                Ev::Start(Tag::Rating, _) => {
                    let value = self.rating()?;
                    rating = rating.or(value);
                }
                Ev::Start(Tag::Icon, a) => {
                    icon = icon.or(a.src);
                    self.skip_element()?;
                }
                Ev::Empty(Tag::Icon, a) => icon = icon.or(a.src),
                Ev::Start(..) => self.skip_element()?,
                Ev::Empty(..) => {}
                Ev::End => done = true,
                Ev::Eof => return Err(self.truncated()),
            }
        }
        let start = a.start.as_deref().and_then(parse_time);
        let (Some(channel), Some(start)) = (a.channel.filter(|c| !c.is_empty()), start) else {
            self.skipped += 1;
            return Ok(None);
        };
        Ok(Some(Programme {
            channel,
            start,
            stop: a.stop.as_deref().and_then(parse_time),
            title: title.unwrap_or_default(),
            sub_title,
            desc,
            categories,
            episode_num,
            icon,
            rating,
        }))
    }

    /// The first `<value>` of a `<rating>`, consuming the element.
    fn rating(&mut self) -> Result<Option<String>, XmltvError> {
        let mut value = None;
        loop {
            match self.pull()? {
                Ev::Start(Tag::Value, _) => first_text(&mut value, self.read_text()?),
                Ev::Start(..) => self.skip_element()?,
                Ev::Empty(..) => {}
                Ev::End => return Ok(value),
                Ev::Eof => return Err(self.truncated()),
            }
        }
    }

    /// The trimmed text (CDATA included, nested markup dropped) up to the
    /// end of the element just opened, at most `MAX_TEXT_BYTES`.
    fn read_text(&mut self) -> Result<String, XmltvError> {
        self.text.clear();
        self.collect = true;
        let out = self.skip_element();
        self.collect = false;
        out?;
        let text = self.text.trim().to_string();
        if self.text.capacity() > MAX_TEXT_BYTES * 2 {
            self.text = String::new();
        }
        Ok(text)
    }

    /// Consumes events up to the end of the element just opened.
    fn skip_element(&mut self) -> Result<(), XmltvError> {
        let depth = self.stack.len();
        loop {
            match self.pull()? {
                Ev::End if self.stack.len() < depth => return Ok(()),
                Ev::Eof => return Err(self.truncated()),
                _ => {}
            }
        }
    }

    /// The next event that matters, keeping `stack` and `text` up to date.
    fn pull(&mut self) -> Result<Ev, XmltvError> {
        loop {
            if self.buf.capacity() > BUF_KEEP {
                self.buf = Vec::with_capacity(8 * 1024);
            }
            self.buf.clear();
            self.xml.get_mut().start_event();
            let event = match self.xml.read_event_into(&mut self.buf) {
                Ok(event) => event,
                Err(e) => return Err(self.xml_error(e)),
            };
            match event {
                Event::Start(e) => {
                    let tag = Tag::of(e.local_name().as_ref());
                    let attrs = attrs_of(&e, tag);
                    let name = String::from_utf8_lossy(e.name().as_ref())
                        .chars()
                        .take(64)
                        .collect();
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(self.too_deep());
                    }
                    let line = self.line_at(self.xml.buffer_position());
                    self.stack.push((name, line));
                    return Ok(Ev::Start(tag, attrs));
                }
                Event::Empty(e) => {
                    let tag = Tag::of(e.local_name().as_ref());
                    let attrs = attrs_of(&e, tag);
                    if self.stack.is_empty() {
                        // Only to name a root that is not `<tv>`.
                        let name = String::from_utf8_lossy(e.name().as_ref())
                            .chars()
                            .take(64)
                            .collect();
                        let line = self.line_at(self.xml.buffer_position());
                        self.stack.push((name, line));
                    }
                    return Ok(Ev::Empty(tag, attrs));
                }
                Event::End(_) => {
                    self.stack.pop();
                    return Ok(Ev::End);
                }
                Event::Text(t) => {
                    if self.collect {
                        push_capped(&mut self.text, &unescape_lossy(&t));
                    } else if self.stack.is_empty() && !t.iter().all(u8::is_ascii_whitespace) {
                        return Err(self.not_xml("text outside the root element"));
                    }
                }
                Event::CData(t) => {
                    if self.collect {
                        push_capped(&mut self.text, &String::from_utf8_lossy(&t));
                    }
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
                Event::Eof => return Ok(Ev::Eof),
            }
        }
    }

    fn line_at(&self, offset: u64) -> u64 {
        self.xml.get_ref().line_at(offset)
    }

    fn xml_error(&mut self, e: quick_xml::Error) -> XmltvError {
        // quick-xml places syntax errors; a failed read is placed at the
        // start of the event it interrupted.
        let offset = match e {
            quick_xml::Error::Io(_) => self.xml.get_ref().event_start(),
            _ => self.xml.error_position(),
        };
        let line = self.line_at(offset);
        match e {
            quick_xml::Error::Io(_) if self.xml.get_ref().over_cap() => XmltvError::TooLarge {
                line,
                offset,
                limit: MAX_EVENT_BYTES,
            },
            quick_xml::Error::Io(source) => XmltvError::Io {
                line,
                offset,
                source,
            },
            other => XmltvError::Malformed {
                line,
                offset,
                message: other.to_string(),
            },
        }
    }

    fn here(&self) -> (u64, u64) {
        let offset = self.xml.buffer_position();
        (self.line_at(offset), offset)
    }

    fn truncated(&self) -> XmltvError {
        let (line, offset) = self.here();
        let (open, opened_line) = self.stack.last().cloned().unwrap_or_default();
        XmltvError::Truncated {
            line,
            offset,
            open,
            opened_line,
        }
    }

    fn not_xml(&self, what: &'static str) -> XmltvError {
        let (line, offset) = self.here();
        XmltvError::NotXml { line, offset, what }
    }

    fn root_not_tv(&self, found: String) -> XmltvError {
        let (line, offset) = self.here();
        XmltvError::RootNotTv {
            line,
            offset,
            found,
        }
    }

    fn too_deep(&self) -> XmltvError {
        let (line, offset) = self.here();
        XmltvError::TooDeep {
            line,
            offset,
            limit: MAX_DEPTH,
        }
    }
}

/// Keeps at most `MAX_LIST_LEN` values of a repeated child.
fn push_bounded<T>(list: &mut Vec<T>, value: T) {
    if list.len() < MAX_LIST_LEN {
        list.push(value);
    }
}

fn first_text(slot: &mut Option<String>, text: String) {
    if slot.is_none() && !text.is_empty() {
        *slot = Some(text);
    }
}

/// Appends up to `MAX_TEXT_BYTES` in all, cutting at a char boundary.
fn push_capped(out: &mut String, s: &str) {
    let room = MAX_TEXT_BYTES.saturating_sub(out.len());
    if s.len() <= room {
        out.push_str(s);
        return;
    }
    let mut end = room;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.push_str(&s[..end]);
}

/// Text with entities resolved; invalid UTF-8 decoded lossily and an
/// unknown entity (`&nbsp;`) left as written.
fn unescape_lossy(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    match quick_xml::escape::unescape(&text) {
        Ok(s) => s.into_owned(),
        Err(_) => text.into_owned(),
    }
}

fn attrs_of(e: &BytesStart<'_>, tag: Tag) -> Attrs {
    let mut a = Attrs::default();
    if tag == Tag::Other {
        return a;
    }
    // A malformed attribute is dropped; the element still counts.
    for attr in e.attributes().with_checks(false).flatten() {
        let slot = match attr.key.local_name().as_ref() {
            b"id" => &mut a.id,
            b"lang" => &mut a.lang,
            b"src" => &mut a.src,
            b"system" => &mut a.system,
            b"channel" => &mut a.channel,
            b"start" => &mut a.start,
            b"stop" => &mut a.stop,
            _ => continue,
        };
        let mut value = unescape_lossy(&attr.value);
        value.truncate(floor_char_boundary(&value, MAX_TEXT_BYTES));
        let value = value.trim();
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value.to_string());
        }
    }
    a
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}
