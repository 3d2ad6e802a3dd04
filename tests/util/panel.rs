//! A fake Xtream Codes panel and file server on 127.0.0.1:0, with the
//! quirks real panels have, switchable per test: numbers as strings,
//! `auth: 0`, 401, an HTML 404 for bad credentials, expired accounts,
//! malformed JSON, an empty list, a list that lost most of its streams,
//! reshuffled order. Also serves playlists and guides by path.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parking_lot::Mutex;

pub const USER: &str = "alice";
pub const PASS: &str = "s3cr3tPw";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelMode {
    Ok,
    /// 200 with `"auth": 0`.
    Auth0,
    Unauthorized,
    /// The common panel that answers bad credentials with an HTML 404.
    Html404,
    Expired,
    Banned,
    MalformedStreams,
    EmptyStreams,
    /// Only a tenth of the streams.
    Drop90,
    /// The stream list reversed.
    Reshuffled,
}

pub struct PanelState {
    pub mode: Mutex<PanelMode>,
    pub streams: Mutex<usize>,
    pub requests: AtomicU64,
    /// Served files by path (`/files/<name>`).
    pub files: Mutex<HashMap<String, Vec<u8>>>,
}

pub struct Panel {
    pub addr: SocketAddr,
    pub state: Arc<PanelState>,
    _task: tokio::task::JoinHandle<()>,
}

impl Panel {
    pub async fn start(streams: usize) -> Self {
        let state = Arc::new(PanelState {
            mode: Mutex::new(PanelMode::Ok),
            streams: Mutex::new(streams),
            requests: AtomicU64::new(0),
            files: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/player_api.php", get(player_api))
            .route("/files/{name}", get(file))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            state,
            _task: task,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, m: PanelMode) {
        *self.state.mode.lock() = m;
    }

    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    pub fn serve_file(&self, name: &str, body: Vec<u8>) -> String {
        self.state.files.lock().insert(name.to_string(), body);
        format!("{}/files/{name}", self.base())
    }
}

async fn file(State(st): State<Arc<PanelState>>, Path(name): Path<String>) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    match st.files.lock().get(&name) {
        Some(b) => b.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn json(body: String) -> Response {
    ([("content-type", "application/json")], body).into_response()
}

async fn player_api(
    State(st): State<Arc<PanelState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let mode = *st.mode.lock();
    let creds_ok = q.get("username").map(String::as_str) == Some(USER)
        && q.get("password").map(String::as_str) == Some(PASS);
    if mode == PanelMode::Unauthorized {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if mode == PanelMode::Html404 || !creds_ok {
        return (
            StatusCode::NOT_FOUND,
            [("content-type", "text/html")],
            "<html><head><title>404 Not Found</title></head><body>nginx</body></html>",
        )
            .into_response();
    }
    match q.get("action").map(String::as_str) {
        None => {
            if mode == PanelMode::Auth0 {
                return json(r#"{"user_info":{"auth":0},"server_info":{}}"#.into());
            }
            let (status, exp) = match mode {
                PanelMode::Expired => ("Expired", "1500000000"),
                PanelMode::Banned => ("Banned", "null"),
                _ => ("Active", "\"4102444800\""),
            };
            json(format!(
                r#"{{"user_info":{{"username":"{USER}","password":"{PASS}","message":"","auth":1,"status":"{status}","exp_date":{exp},"is_trial":"0","active_cons":"1","created_at":"1600000000","max_connections":"2","allowed_output_formats":["m3u8","ts"]}},"server_info":{{"url":"127.0.0.1","port":"80","https_port":"","server_protocol":"http","timezone":"UTC","timestamp_now":1700000000}}}}"#
            ))
        }
        Some("get_live_categories") => json(
            r#"[{"category_id":"1","category_name":"UK | News","parent_id":0},{"category_id":"2","category_name":"UK | Sport","parent_id":"0"}]"#.into(),
        ),
        Some("get_live_streams") => {
            let n = *st.streams.lock();
            let n = match mode {
                PanelMode::EmptyStreams => 0,
                PanelMode::Drop90 => n / 10,
                _ => n,
            };
            if mode == PanelMode::MalformedStreams {
                return json(r#"[{"num":1,"name":"Broken","stream_id":"#.into());
            }
            let mut items: Vec<String> = (1..=n)
                .map(|i| {
                    // Numbers as strings on odd ids, nulls and escaped slashes.
                    let id = if i % 2 == 1 {
                        format!("\"{}\"", 1000 + i)
                    } else {
                        format!("{}", 1000 + i)
                    };
                    let epg = if i % 3 == 0 {
                        "null".to_string()
                    } else {
                        format!("\"chan{i}.uk\"")
                    };
                    format!(
                        r#"{{"num":"{i}","name":"UK: Channel {i} HD","stream_type":"live","stream_id":{id},"stream_icon":"http:\/\/logos.example\/{i}.png","epg_channel_id":{epg},"added":"1600000000","category_id":"{}","tv_archive":0}}"#,
                        1 + i % 2
                    )
                })
                .collect();
            if mode == PanelMode::Reshuffled {
                items.reverse();
            }
            json(format!("[{}]", items.join(",")))
        }
        Some(_) => json("[]".into()),
    }
}
