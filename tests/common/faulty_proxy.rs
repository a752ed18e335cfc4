//! A loopback HTTP proxy in front of a storage endpoint that fails chosen Delta commits the two
//! ways storage fails in production: the service refuses the request (503 Server Busy), or the
//! request lands and its response is lost (the connection drops after the blob was written).
//!
//! One request per connection (`Connection: close` towards the service), so the proxy only has to
//! find where a request ends, never a response: it relays the service's answer until the service
//! closes. Requests are numbered per kind; a commit is a PUT of `_delta_log/<version>.json`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What happens to one commit request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answered 503 without reaching the service.
    Unavailable,
    /// Forwarded (the commit lands), then the connection is closed without an answer.
    LoseResponse,
}

/// The running proxy: its endpoint and what it did.
pub struct FaultyProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

/// A fault for the `commit`-th commit request (1-based; table creation is the first, a retried
/// request counts again) of the table whose path contains `table`.
#[derive(Debug, Clone)]
pub struct Planned {
    table: String,
    commit: usize,
    fault: Fault,
}

impl Planned {
    pub fn new(table: &str, commit: usize, fault: Fault) -> Self {
        Self { table: table.to_owned(), commit, fault }
    }
}

#[derive(Default)]
struct State {
    plan: Vec<Planned>,
    /// Commit requests seen per planned table.
    commits_seen: std::collections::HashMap<String, usize>,
    /// Every commit request line, in order.
    commits: Vec<String>,
    injected: Vec<(String, Fault)>,
}

impl FaultyProxy {
    /// Listens on loopback and forwards to `upstream` (an `http://host:port/account` endpoint),
    /// injecting `plan`'s faults.
    pub fn start(upstream: &str, plan: Vec<Planned>) -> Self {
        let url = url::Url::parse(upstream).unwrap();
        let service: SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port_or_known_default().unwrap()).parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}{}", listener.local_addr().unwrap(), url.path().trim_end_matches('/'));
        let state = Arc::new(Mutex::new(State { plan, ..State::default() }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = relay(client, service, &shared);
                });
            }
        });
        Self { endpoint, state }
    }

    /// The faults injected so far: (request line, fault).
    pub fn injected(&self) -> Vec<(String, Fault)> {
        self.state.lock().unwrap().injected.clone()
    }

    /// Every commit request seen, in order.
    pub fn commits(&self) -> Vec<String> {
        self.state.lock().unwrap().commits.clone()
    }
}

fn relay(client: TcpStream, service: SocketAddr, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let (request_line, head, body) = read_request(&mut reader)?;
    let fault = fault_for(&request_line, state);
    let mut client = client;
    if fault == Some(Fault::Unavailable) {
        let busy = "HTTP/1.1 503 Service Unavailable\r\nx-ms-error-code: ServerBusy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        return client.write_all(busy.as_bytes());
    }
    let mut upstream = TcpStream::connect(service)?;
    upstream.write_all(head.as_bytes())?;
    upstream.write_all(&body)?;
    let mut response = Vec::new();
    upstream.read_to_end(&mut response)?;
    if fault == Some(Fault::LoseResponse) {
        // The blob is written; the writer never hears so.
        return client.shutdown(std::net::Shutdown::Both);
    }
    client.write_all(&response)
}

/// The request line, the head rewritten to close the connection, and the body.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<(String, String, Vec<u8>)> {
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut head = request_line.clone();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((request_line.trim_end().to_owned(), head, body))
}

fn fault_for(request_line: &str, state: &Mutex<State>) -> Option<Fault> {
    let mut parts = request_line.split(' ');
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = path.split('?').next().unwrap_or_default();
    let is_commit = method == "PUT"
        && path
            .rsplit_once("/_delta_log/")
            .is_some_and(|(_, file)| file.strip_suffix(".json").is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit())));
    if !is_commit {
        return None;
    }
    let mut state = state.lock().unwrap();
    state.commits.push(request_line.to_owned());
    let tables: std::collections::BTreeSet<String> = state.plan.iter().map(|p| p.table.clone()).filter(|t| path.contains(t.as_str())).collect();
    let mut fault = None;
    for table in tables {
        let seen = state.commits_seen.entry(table.clone()).or_default();
        *seen += 1;
        let seen = *seen;
        fault = fault.or(state.plan.iter().find(|p| p.table == table && p.commit == seen).map(|p| p.fault));
    }
    let fault = fault?;
    state.injected.push((request_line.to_owned(), fault));
    Some(fault)
}
