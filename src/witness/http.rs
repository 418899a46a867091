//! A minimal HTTP/1.1 server for the C2SP tlog-witness `add-checkpoint`
//! endpoint, on `std::net` only.
//!
//! It listens on loopback addresses only (to expose a witness, put a reverse
//! proxy or a C2SP https-bastion in front of it), serves one connection at a
//! time and one request per connection (`Connection: close`), and bounds
//! everything: request head 8 KiB, body 128 KiB (with a `Content-Length`;
//! chunked bodies are refused), 10 s to send a request.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// The endpoint path (with an empty submission prefix).
pub const ENDPOINT: &str = "/add-checkpoint";
/// Largest request head (request line and headers).
pub const MAX_HEAD: usize = 8 << 10;
/// Largest request body.
pub const MAX_BODY: usize = 128 << 10;
/// Time a client has to send its whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// What to log about the request (not sent).
    pub log: String,
}

impl Response {
    /// A `text/plain` response whose body is `msg` and a newline.
    pub fn text(status: u16, msg: impl Into<String>) -> Response {
        let msg = msg.into();
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{msg}\n").into_bytes(),
            log: msg,
        }
    }
}

/// Fails unless `addr` is a loopback address.
pub fn check_loopback(addr: &SocketAddr) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!("{addr} is not a loopback address"))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Internal Server Error",
    }
}

/// The parsed head of a request.
#[derive(Debug)]
struct Head {
    method: String,
    path: String,
    content_length: Option<usize>,
    chunked: bool,
}

fn parse_head(head: &[u8]) -> Result<Head, Response> {
    let bad = |m: &str| Response::text(400, m);
    let head = std::str::from_utf8(head).map_err(|_| bad("request head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let [method, target, version] = line.split(' ').collect::<Vec<_>>()[..] else {
        return Err(bad("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(Response::text(505, "only HTTP/1.x is supported"));
    }
    let path = target.split('?').next().unwrap_or_default();
    let mut h = Head {
        method: method.to_string(),
        path: path.to_string(),
        content_length: None,
        chunked: false,
    };
    for l in lines {
        let (name, value) = l
            .split_once(':')
            .ok_or_else(|| bad("malformed header line"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("malformed Content-Length"));
            }
            let n = value.parse::<usize>().unwrap_or(usize::MAX);
            if h.content_length.is_some_and(|o| o != n) {
                return Err(bad("conflicting Content-Length headers"));
            }
            h.content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            h.chunked = true;
        }
    }
    Ok(h)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_more(r: &mut impl Read, buf: &mut Vec<u8>, deadline: Instant) -> Result<(), Response> {
    if Instant::now() > deadline {
        return Err(Response::text(408, "request not received in time"));
    }
    let mut chunk = [0u8; 4096];
    match r.read(&mut chunk) {
        Ok(0) => Err(Response::text(
            400,
            "connection closed before the request was complete",
        )),
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(Response::text(408, "request not received in time"))
        }
        Err(e) => Err(Response::text(400, format!("reading the request: {e}"))),
    }
}

/// Reads one request and returns its method, path and the body of a valid
/// `POST /add-checkpoint`, or the error response to send.
fn read_request(
    r: &mut impl Read,
    deadline: Instant,
) -> Result<(String, String, Vec<u8>), (String, Response)> {
    let mut buf = Vec::with_capacity(2048);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err((
                String::new(),
                Response::text(431, "request head over 8 KiB"),
            ));
        }
        read_more(r, &mut buf, deadline).map_err(|e| (String::new(), e))?;
    };
    if head_end > MAX_HEAD {
        return Err((
            String::new(),
            Response::text(431, "request head over 8 KiB"),
        ));
    }
    let h = parse_head(&buf[..head_end]).map_err(|e| (String::new(), e))?;
    let what = format!("{} {}", h.method, h.path);
    if h.path != ENDPOINT {
        return Err((
            what,
            Response::text(404, format!("no such endpoint; POST {ENDPOINT}")),
        ));
    }
    if h.method != "POST" {
        return Err((what, Response::text(405, format!("use POST {ENDPOINT}"))));
    }
    if h.chunked {
        return Err((
            what,
            Response::text(
                501,
                "chunked request bodies are not supported; send Content-Length",
            ),
        ));
    }
    let Some(len) = h.content_length else {
        return Err((what, Response::text(411, "Content-Length is required")));
    };
    if len > MAX_BODY {
        return Err((
            what,
            Response::text(413, format!("request body over {MAX_BODY} bytes")),
        ));
    }
    let mut body = buf.split_off(head_end + 4);
    while body.len() < len {
        read_more(r, &mut body, deadline).map_err(|e| (what.clone(), e))?;
    }
    body.truncate(len);
    Ok((h.method, h.path, body))
}

fn write_response(w: &mut impl Write, resp: &Response) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    );
    if resp.status == 405 {
        head.push_str("Allow: POST\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(&resp.body)?;
    w.flush()
}

/// Handles one connection: reads a request, calls `handler` with the body of
/// a valid `POST /add-checkpoint`, writes the response and closes. Returns
/// the log line.
pub fn handle(stream: &mut TcpStream, handler: &mut dyn FnMut(&[u8]) -> Response) -> String {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    let (what, resp) = match read_request(stream, deadline) {
        Ok((m, p, body)) => (format!("{m} {p}"), handler(&body)),
        Err(e) => e,
    };
    let _ = write_response(stream, &resp);
    // Let the client read the answer before the socket closes: stop writing,
    // then discard what it still sends (bounded), so the close is not a reset.
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < (1 << 20) {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    format!("{peer} {what} {} {}", resp.status, resp.log)
}

/// Serves connections from `listener` one at a time (all of them, or the
/// first `limit`), logging one line per request with `log`.
pub fn serve(
    listener: &TcpListener,
    mut handler: impl FnMut(&[u8]) -> Response,
    mut log: impl FnMut(&str),
    limit: Option<u64>,
) {
    let mut served = 0u64;
    while limit.is_none_or(|l| served < l) {
        match listener.accept() {
            Ok((mut s, _)) => {
                served += 1;
                let line = handle(&mut s, &mut handler);
                log(&line);
            }
            Err(e) => {
                log(&format!("accept: {e}"));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(req: &[u8]) -> (String, Vec<u8>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            serve(
                &l,
                |b| Response::text(200, format!("got {} bytes", b.len())),
                |_| {},
                Some(1),
            );
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(req).unwrap();
        let mut out = Vec::new();
        c.read_to_end(&mut out).unwrap();
        t.join().unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text.split(' ').nth(1).unwrap_or_default().to_string();
        let body = out[find(&out, b"\r\n\r\n").unwrap() + 4..].to_vec();
        (status, body)
    }

    #[test]
    fn framing_and_status_codes() {
        let (s, b) = roundtrip(
            b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        );
        assert_eq!(
            (s.as_str(), b.as_slice()),
            ("200", b"got 5 bytes\n".as_slice())
        );
        let (s, _) = roundtrip(b"POST /add-checkpoint?x=1 HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(s, "200");
        for (req, want) in [
            (b"GET /add-checkpoint HTTP/1.1\r\n\r\n".to_vec(), "405"),
            (
                b"POST /other HTTP/1.1\r\nContent-Length: 0\r\n\r\n".to_vec(),
                "404",
            ),
            (b"POST /add-checkpoint HTTP/1.1\r\n\r\n".to_vec(), "411"),
            (
                b"POST /add-checkpoint HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                    .to_vec(),
                "501",
            ),
            (
                b"POST /add-checkpoint HTTP/1.1\r\nContent-Length: 999999\r\n\r\n".to_vec(),
                "413",
            ),
            (
                b"POST /add-checkpoint HTTP/1.1\r\nContent-Length: x\r\n\r\n".to_vec(),
                "400",
            ),
            (
                b"POST /add-checkpoint HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
                    .to_vec(),
                "400",
            ),
            (b"POST /add-checkpoint HTTP/2\r\n\r\n".to_vec(), "505"),
            (b"BAD\r\n\r\n".to_vec(), "400"),
            (
                [
                    b"POST /add-checkpoint HTTP/1.1\r\nX: ".as_slice(),
                    &[b'a'; 9000],
                    b"\r\n\r\n",
                ]
                .concat(),
                "431",
            ),
        ] {
            assert_eq!(
                roundtrip(&req).0,
                want,
                "{}",
                String::from_utf8_lossy(&req[..40.min(req.len())])
            );
        }
        assert!(check_loopback(&"127.0.0.1:1".parse().unwrap()).is_ok());
        assert!(check_loopback(&"[::1]:1".parse().unwrap()).is_ok());
        assert!(check_loopback(&"0.0.0.0:1".parse().unwrap()).is_err());
    }
}
