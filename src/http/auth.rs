//! Who may use management. The tuner face (HDHomeRun endpoints, stream
//! URLs, `playlist.m3u`, `epg.xml`, `/healthz`) stays open: Plex and IPTV
//! players cannot log in. Everything else (`/api/*`, the dashboard, any
//! path not listed as open) is management: once an admin password is set
//! (`streamforge set-password`, or `server.admin_password_hash`) it needs
//! a session cookie (HttpOnly, SameSite=Strict; writes also carry the
//! session's `X-CSRF-Token`) or an API token (`Authorization: Bearer`);
//! with no password set it answers only to loopback peers that did not
//! come through a proxy, and says how to set one. Either way a request
//! whose `Host` (or `Origin`, on a write) is not one of ours is refused,
//! so a DNS-rebinding page cannot drive the API from a browser.
//!
//! Not here: where the password hash and tokens are kept (`store::auth`),
//! which hosts are ours (`plex::hosts`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use base64::Engine;
use parking_lot::Mutex;
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ServerConfig;
use crate::plex::hosts::HostPolicy;
use crate::store::Store;

/// The session cookie's name.
pub const COOKIE: &str = "sf_session";
/// The header a cookie-authenticated write carries.
pub const CSRF_HEADER: &str = "x-csrf-token";
const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_SESSIONS: usize = 256;
/// Failed logins allowed per peer address per window before 429.
const MAX_FAILURES: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How long a read of the stored password hash is reused.
const HASH_CACHE: Duration = Duration::from_secs(2);
const SET_PASSWORD_HINT: &str = "run `streamforge set-password` on the server (or set server.admin_password_hash) to manage it from another machine";

#[derive(Debug, Clone)]
struct Session {
    csrf: String,
    expires: Instant,
    /// The password hash the session was opened under: a new password
    /// ends every older session.
    under: String,
}

/// The admin gate's state, shared by the middleware and the auth routes.
pub struct Auth {
    store: Store,
    /// `server.admin_password_hash`; wins over the stored one.
    configured: Option<String>,
    pub hosts: Arc<HostPolicy>,
    /// Cookies get `Secure` when `public_url` is https.
    secure_cookie: bool,
    /// Keyed by the SHA-256 of the session token. A `parking_lot::Mutex`
    /// around a small map: held for one lookup, insert or sweep.
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    /// Failed logins per peer: window start and count.
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    /// The last read of the stored hash.
    stored: Mutex<Option<(Instant, Option<String>)>>,
}

/// Who a request is.
#[derive(Debug, Clone, PartialEq)]
enum Identity {
    Token,
    Session { csrf: String },
    Nobody,
}

impl Auth {
    pub fn new(store: Store, server: &ServerConfig, hosts: Arc<HostPolicy>) -> Self {
        Self {
            store,
            configured: server.admin_password_hash.clone(),
            hosts,
            secure_cookie: server
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https:")),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            stored: Mutex::new(None),
        }
    }

    /// The admin password hash in force, if any.
    async fn password_hash(&self) -> Option<String> {
        if let Some(h) = &self.configured {
            return Some(h.clone());
        }
        if let Some((at, h)) = self.stored.lock().as_ref()
            && at.elapsed() < HASH_CACHE
        {
            return h.clone();
        }
        let h = match self.store.admin_password_hash().await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("cannot read the admin password hash: {e}");
                // Fail closed: a placeholder no password matches.
                return Some(String::new());
            }
        };
        *self.stored.lock() = Some((Instant::now(), h.clone()));
        h
    }

    async fn identify(&self, headers: &HeaderMap, hash: Option<&str>) -> Identity {
        if let Some(token) = bearer(headers) {
            match self.store.use_api_token(&sha256_hex(token)).await {
                Ok(Some(_)) => return Identity::Token,
                Ok(None) => {}
                Err(e) => tracing::error!("cannot check an API token: {e}"),
            }
        }
        if let (Some(cookie), Some(hash)) = (cookie(headers, COOKIE), hash) {
            let key = sha256(cookie);
            let mut sessions = self.sessions.lock();
            if let Some(s) = sessions.get(&key) {
                if s.expires > Instant::now() && s.under == hash {
                    return Identity::Session {
                        csrf: s.csrf.clone(),
                    };
                }
                sessions.remove(&key);
            }
        }
        Identity::Nobody
    }

    fn open_session(&self, under: &str) -> (String, String) {
        let token = random_token();
        let csrf = random_token();
        let mut sessions = self.sessions.lock();
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| *k)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            sha256(&token),
            Session {
                csrf: csrf.clone(),
                expires: now + SESSION_TTL,
                under: under.to_string(),
            },
        );
        (token, csrf)
    }

    /// Opens a session under `hash` and answers with its cookie and CSRF
    /// token (after a login, or a new password).
    fn session_response(&self, hash: &str) -> Response {
        let (token, csrf) = self.open_session(hash);
        let mut r = Json(json!({ "csrf": csrf })).into_response();
        r.headers_mut().insert(
            header::SET_COOKIE,
            self.session_cookie(&token, SESSION_TTL.as_secs()),
        );
        r
    }

    fn session_cookie(&self, token: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
        ))
        .expect("cookie is ASCII")
    }

    /// Whether `peer` may try another password now.
    fn may_try(&self, peer: IpAddr) -> bool {
        let f = self.failures.lock();
        match f.get(&peer) {
            Some((start, n)) => start.elapsed() >= FAILURE_WINDOW || *n < MAX_FAILURES,
            None => true,
        }
    }

    fn failed(&self, peer: IpAddr) {
        let mut f = self.failures.lock();
        if f.len() > 4096 {
            f.retain(|_, (start, _)| start.elapsed() < FAILURE_WINDOW);
        }
        let e = f.entry(peer).or_insert((Instant::now(), 0));
        if e.0.elapsed() >= FAILURE_WINDOW {
            *e = (Instant::now(), 0);
        }
        e.1 += 1;
    }
}

/// An argon2id PHC string for `password` (argon2's default parameters).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("cannot encode a salt: {e}"))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?
        .to_string())
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Checks a new password's shape; the reason when it is refused.
pub fn check_new_password(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 8 {
        return Err("the password must have at least 8 characters");
    }
    if password.len() > 1024 {
        return Err("the password must have at most 1024 bytes");
    }
    Ok(())
}

/// A fresh 256-bit token, URL-safe base64 with an `sf_` prefix.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!(
        "sf_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// The hex SHA-256 under which an API token is stored.
pub fn sha256_hex(s: &str) -> String {
    sha256(s).iter().map(|b| format!("{b:02x}")).collect()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Paths the tuner face needs without a login.
pub fn is_open(path: &str) -> bool {
    const EXACT: &[&str] = &[
        "/discover.json",
        "/lineup_status.json",
        "/lineup.json",
        "/lineup.post",
        "/device.xml",
        "/capability",
        "/playlist.m3u",
        "/epg.xml",
        "/healthz",
        "/login",
        "/favicon.ico",
        "/api/auth/login",
        "/api/auth/logout",
        "/api/auth/status",
    ];
    if EXACT.contains(&path) {
        return true;
    }
    if ["/auto/", "/stream/", "/static/"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        return true;
    }
    // `/tuner<N>/v<number>`.
    let mut segs = path.trim_start_matches('/').split('/');
    matches!(
        (segs.next(), segs.next(), segs.next()),
        (Some(t), Some(v), None)
            if t.strip_prefix("tuner").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                && v.starts_with('v')
    )
}

fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A peer on loopback that did not come through a proxy on this machine.
fn direct_loopback(peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    let proxied = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h));
    !proxied && peer.is_some_and(|p| p.ip().is_loopback() || is_mapped_loopback(p.ip()))
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
}

/// The peer address `http::server` records on each request (none when
/// the router is called without a socket).
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

fn refuse(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn wants_html(req: &Request) -> bool {
    req.method() == Method::GET
        && !req.uri().path().starts_with("/api/")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

/// The gate in front of every route (`crate::router` layers it).
pub async fn gate(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if is_open(path) {
        return next.run(req).await;
    }
    let headers = req.headers();
    // The host the request names must be ours (DNS rebinding).
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        });
    if let Some(h) = &host
        && !auth.hosts.allows(h)
    {
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "management refuses Host {:?}: add it to server.allowed_hosts if this machine is reached by that name",
                crate::redact::redact_in_text(h)
            ),
        );
    }
    if is_write(req.method())
        && let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
    {
        let ours = url::Url::parse(origin)
            .ok()
            .and_then(|u| {
                let port = u.port_or_known_default()?;
                u.host_str()
                    .map(|h| auth.hosts.allows(&format!("{h}:{port}")))
            })
            .unwrap_or(false);
        if !ours {
            return refuse(
                StatusCode::FORBIDDEN,
                "cross-origin write refused (Origin is not this server)".to_string(),
            );
        }
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let hash = auth.password_hash().await;
    match auth.identify(headers, hash.as_deref()).await {
        Identity::Token => return next.run(req).await,
        Identity::Session { csrf } => {
            if is_write(req.method()) {
                let sent = headers
                    .get(CSRF_HEADER)
                    .map(|v| v.as_bytes())
                    .unwrap_or_default();
                if !bool::from(sent.ct_eq(csrf.as_bytes())) {
                    return refuse(
                        StatusCode::FORBIDDEN,
                        format!(
                            "missing or wrong {CSRF_HEADER} header (GET /api/auth/status gives it)"
                        ),
                    );
                }
            }
            return next.run(req).await;
        }
        Identity::Nobody => {}
    }
    if hash.is_none() {
        if direct_loopback(peer, headers) {
            return next.run(req).await;
        }
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "management answers only to this machine until an admin password is set: {SET_PASSWORD_HINT}"
            ),
        );
    }
    if wants_html(&req) {
        let next_path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let encoded: String = url::form_urlencoded::byte_serialize(next_path.as_bytes()).collect();
        return Redirect::to(&format!("/login?next={encoded}")).into_response();
    }
    let mut r = refuse(
        StatusCode::UNAUTHORIZED,
        "login required: POST /api/auth/login, or send Authorization: Bearer <API token>"
            .to_string(),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"streamforge\""),
    );
    r
}

/// The auth routes: login, logout, status, password, API tokens.
pub fn routes() -> Router<Arc<Auth>> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/status", get(status))
        .route("/api/auth/password", put(set_password))
        .route("/api/auth/tokens", get(list_tokens).post(create_token))
        .route("/api/auth/tokens/{id}", delete(delete_token))
}

#[derive(Deserialize)]
struct LoginBody {
    password: String,
}

async fn login(
    State(auth): State<Arc<Auth>>,
    Peer(peer): Peer,
    body: Option<Json<LoginBody>>,
) -> Response {
    let Some(Json(body)) = body else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "send JSON {\"password\": \"...\"}".to_string(),
        );
    };
    let Some(hash) = auth.password_hash().await else {
        return refuse(
            StatusCode::CONFLICT,
            format!("no admin password is set: {SET_PASSWORD_HINT}"),
        );
    };
    let ip = peer
        .map(|p| p.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    if !auth.may_try(ip) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins from this address: wait a minute".to_string(),
        );
    }
    let (h, pw) = (hash.clone(), body.password);
    let ok = tokio::task::spawn_blocking(move || verify_password(&h, &pw))
        .await
        .unwrap_or(false);
    if !ok {
        auth.failed(ip);
        tracing::warn!(peer = %ip, "failed admin login");
        return refuse(StatusCode::UNAUTHORIZED, "wrong password".to_string());
    }
    auth.session_response(&hash)
}

async fn logout(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    if let Some(c) = cookie(&headers, COOKIE) {
        auth.sessions.lock().remove(&sha256(c));
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, auth.session_cookie("", 0));
    r
}

async fn status(State(auth): State<Arc<Auth>>, Peer(peer): Peer, headers: HeaderMap) -> Response {
    let hash = auth.password_hash().await;
    let id = auth.identify(&headers, hash.as_deref()).await;
    let open = hash.is_none() && direct_loopback(peer, &headers);
    Json(json!({
        "password_set": hash.is_some(),
        "logged_in": id != Identity::Nobody,
        "csrf": match &id { Identity::Session { csrf } => Some(csrf.clone()), _ => None },
        // Management is open to this caller without a login.
        "open_without_login": open,
        "hint": hash.is_none().then_some(SET_PASSWORD_HINT),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct PasswordBody {
    password: String,
}

/// Sets the stored admin password (the gate already let the caller in:
/// an admin, or loopback while none is set). Ends every other session.
async fn set_password(State(auth): State<Arc<Auth>>, Json(body): Json<PasswordBody>) -> Response {
    if auth.configured.is_some() {
        return refuse(
            StatusCode::CONFLICT,
            "the password is set by server.admin_password_hash in the config; change it there"
                .to_string(),
        );
    }
    if let Err(why) = check_new_password(&body.password) {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, why.to_string());
    }
    let pw = body.password;
    let hash = match tokio::task::spawn_blocking(move || hash_password(&pw)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if let Err(e) = auth.store.set_admin_password_hash(&hash).await {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    *auth.stored.lock() = Some((Instant::now(), Some(hash.clone())));
    auth.sessions.lock().clear();
    tracing::info!("admin password changed; every session ended");
    auth.session_response(&hash)
}

async fn list_tokens(State(auth): State<Arc<Auth>>) -> Response {
    match auth.store.api_tokens().await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
struct TokenBody {
    name: String,
}

async fn create_token(State(auth): State<Arc<Auth>>, Json(body): Json<TokenBody>) -> Response {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name must be 1 to 100 characters".to_string(),
        );
    }
    let token = random_token();
    match auth.store.add_api_token(name, &sha256_hex(&token)).await {
        Ok(row) => (
            StatusCode::CREATED,
            Json(json!({ "id": row.id, "name": row.name, "created_at": row.created_at, "token": token })),
        )
            .into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn delete_token(State(auth): State<Arc<Auth>>, Path(id): Path<i64>) -> Response {
    match auth.store.delete_api_token(id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => refuse(StatusCode::NOT_FOUND, format!("no API token {id}")),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuner_paths_are_open_and_everything_else_is_management() {
        for p in [
            "/discover.json",
            "/lineup.json",
            "/lineup.post",
            "/playlist.m3u",
            "/epg.xml",
            "/healthz",
            "/auto/v101",
            "/stream/101",
            "/tuner0/v101",
            "/tuner12/v5.1",
            "/api/auth/login",
        ] {
            assert!(is_open(p), "{p} should be open");
        }
        for p in [
            "/",
            "/api/sessions",
            "/api/sources",
            "/api/urls",
            "/api/auth/tokens",
            "/api/auth/password",
            "/metrics",
            "/tuner/v1",
            "/tunerx/v1",
            "/tuner0/v1/x",
            "/channels",
        ] {
            assert!(!is_open(p), "{p} should need a login");
        }
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horsE"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough").is_ok());
    }

    #[test]
    fn cookies_and_bearer_are_read_from_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; sf_session=tok; b=2".parse().unwrap());
        h.insert(header::AUTHORIZATION, "Bearer sf_abc".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(bearer(&h), Some("sf_abc"));
    }

    #[test]
    fn proxied_loopback_is_not_loopback() {
        let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let mut h = HeaderMap::new();
        assert!(direct_loopback(Some(peer), &h));
        assert!(!direct_loopback(
            Some("192.168.1.5:4000".parse().unwrap()),
            &h
        ));
        assert!(!direct_loopback(None, &h));
        h.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert!(!direct_loopback(Some(peer), &h));
    }
}
