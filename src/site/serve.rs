//! A small preview server for a built site: `GET` and `HEAD` of files under
//! one directory, on a loopback address, with std::net and a fixed pool of
//! worker threads.
//!
//! It is bounded everywhere: request heads are at most 8 KiB, sockets time out,
//! at most [`WORKERS`] requests are served at once and [`QUEUE`] wait, one
//! request per connection. Paths are percent-decoded, then any `.` or `..`
//! segment, backslash or NUL is refused, and the resolved file must lie under
//! the site directory (symbolic links included).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::SiteError;

/// Worker threads.
pub const WORKERS: usize = 4;
/// Connections waiting for a worker before new ones get 503.
pub const QUEUE: usize = 32;
/// Largest request head read.
pub const MAX_HEAD: usize = 8 * 1024;
/// Socket read and write timeout.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The Content-Security-Policy sent with every response (the pages carry it too).
pub const CSP: &str = "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors 'none'";

/// Binds a listener on 127.0.0.1:`port` (0 picks a free port).
pub fn bind(port: u16) -> Result<TcpListener, SiteError> {
    TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| SiteError::Serve(format!("cannot listen on 127.0.0.1:{port}: {e}")))
}

/// Serves `dir` on `listener` until `max_requests` connections were handled
/// (forever if None). `log` gets one line per request.
pub fn serve(
    dir: &Path,
    listener: TcpListener,
    max_requests: Option<u64>,
    log: Arc<dyn Fn(&str) + Send + Sync>,
) -> Result<(), SiteError> {
    let root = dir.canonicalize().map_err(|e| SiteError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    if !root.is_dir() {
        return Err(SiteError::Serve(format!(
            "{} is not a directory",
            root.display()
        )));
    }
    let root = Arc::new(root);
    let (tx, rx) = sync_channel::<TcpStream>(QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (rx, root, log) = (rx.clone(), root.clone(), log.clone());
        workers.push(std::thread::spawn(move || {
            loop {
                let next = rx.lock().ok().and_then(|r| r.recv().ok());
                let Some(stream) = next else { break };
                handle(stream, &root, &*log);
            }
        }));
    }
    let mut served = 0u64;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        dispatch(&tx, stream);
        served += 1;
        if max_requests.is_some_and(|m| served >= m) {
            break;
        }
    }
    drop(tx);
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

fn dispatch(tx: &SyncSender<TcpStream>, stream: TcpStream) {
    if let Err(TrySendError::Full(mut s)) = tx.try_send(stream) {
        let _ = s.set_write_timeout(Some(TIMEOUT));
        let _ = respond(
            &mut s,
            503,
            "text/plain; charset=utf-8",
            b"busy, retry\n",
            false,
        );
    }
}

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

fn respond(
    s: &mut TcpStream,
    code: u16,
    ctype: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    respond_with(s, code, ctype, body, head_only, &[])
}

fn respond_with(
    s: &mut TcpStream,
    code: u16,
    ctype: &str,
    body: &[u8],
    head_only: bool,
    extra: &[(&str, &str)],
) -> std::io::Result<()> {
    let mut h = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nContent-Security-Policy: {CSP}\r\n",
        status_text(code),
        body.len()
    );
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    s.write_all(h.as_bytes())?;
    if !head_only {
        s.write_all(body)?;
    }
    s.flush()
}

/// The media type of a site file.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "atom" => "application/atom+xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "md" => "text/markdown; charset=utf-8",
        "txt" | "tlog-proof" | "pub" => "text/plain; charset=utf-8",
        _ if path.file_name().is_some_and(|f| f == "checkpoint") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Decodes `%XX` escapes; None if an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What a request target maps to.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// A file relative to the site root (`/`-separated, checked).
    File(String),
    /// A directory named without its trailing slash: redirect here.
    Redirect(String),
    /// A malformed or escaping target.
    Bad,
}

/// Maps a request target to a site path. `is_dir` tells whether a relative path is a directory.
pub fn resolve(target: &str, is_dir: impl Fn(&str) -> bool) -> Target {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return Target::Bad;
    }
    let Some(decoded) = percent_decode(path) else {
        return Target::Bad;
    };
    if decoded.contains(['\\', '\0']) || decoded.chars().any(|c| c.is_control()) {
        return Target::Bad;
    }
    let parts: Vec<&str> = decoded.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Target::Bad;
    }
    // The build's own bookkeeping beside the manifest (its state, the kept
    // model) is not part of the site.
    if parts
        .first()
        .is_some_and(|p| p.starts_with(".speclog-site-"))
    {
        return Target::Bad;
    }
    let rel = parts.join("/");
    if rel.is_empty() {
        return Target::File("index.html".into());
    }
    if is_dir(&rel) {
        if decoded.ends_with('/') {
            Target::File(format!("{rel}/index.html"))
        } else {
            Target::Redirect(format!("{path}/"))
        }
    } else {
        Target::File(rel)
    }
}

fn read_head(s: &mut TcpStream) -> Result<String, u16> {
    let mut r = BufReader::new(s.take(MAX_HEAD as u64 + 1));
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) => return Err(400),
            Ok(_) => {}
            Err(_) => return Err(400),
        }
        head.push_str(&line);
        if head.len() > MAX_HEAD {
            return Err(431);
        }
        if line == "\r\n" || line == "\n" {
            return Ok(head);
        }
    }
}

/// Reads and drops what the client still sends (at most 64 KiB, briefly), so
/// closing after an early error answer does not reset the connection.
fn drain(s: &mut TcpStream) {
    let _ = s.shutdown(std::net::Shutdown::Write);
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = std::io::copy(&mut s.take(64 * 1024), &mut std::io::sink());
}

fn inside(root: &Path, rel: &str) -> Option<PathBuf> {
    if private_path(root, rel) {
        return None;
    }
    let p = root.join(rel).canonicalize().ok()?;
    (p.starts_with(root) && p.is_file()).then_some(p)
}

/// Largest file served (a site's largest files are spec blobs and pages).
pub const MAX_FILE: u64 = 256 << 20;

/// Whether a file name is a private key's: `NAME.key` as speclog and a
/// witness write them, and the `NAME.key.*` files a key rotation keeps.
pub fn private_name(name: &str) -> bool {
    name.ends_with(".key") || name.contains(".key.")
}

/// Whether the directory `dir` is a witness's (it holds `witness.key`, or
/// `witness.pub` beside a `state/` directory): everything in it is private.
fn witness_dir(dir: &Path) -> bool {
    dir.join("witness.key").exists()
        || (dir.join("witness.pub").exists() && dir.join("state").is_dir())
}

/// Whether `rel` (under `root`) is private: a private key file, or anything
/// inside a witness directory (its state, evidence and lock), at any depth.
pub fn private_path(root: &Path, rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.iter().any(|p| private_name(p)) {
        return true;
    }
    let mut dir = root.to_path_buf();
    for p in &parts[..parts.len().saturating_sub(1)] {
        if witness_dir(&dir) {
            return true;
        }
        dir.push(p);
    }
    witness_dir(&dir)
}

/// The first private file (see [`private_path`]) under `root` at any depth,
/// relative; symbolic links are looked at but not followed into. Only
/// directory entries are read (no file is opened), so a site of 100k
/// entries costs a walk of its directories.
pub fn find_private(root: &Path) -> Option<String> {
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        let mut names = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let sub = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if private_name(&name) {
                return Some(sub);
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((e.path(), sub));
            }
            names.push(name);
        }
        let has = |n: &str| names.iter().any(|x| x == n);
        if has("witness.pub") && has("state") {
            return Some(if rel.is_empty() {
                "state".into()
            } else {
                format!("{rel}/state")
            });
        }
    }
    None
}

fn handle(mut s: TcpStream, root: &Path, log: &dyn Fn(&str)) {
    let _ = s.set_read_timeout(Some(TIMEOUT));
    let _ = s.set_write_timeout(Some(TIMEOUT));
    let head = match read_head(&mut s) {
        Ok(h) => h,
        Err(code) => {
            let _ = respond(
                &mut s,
                code,
                "text/plain; charset=utf-8",
                b"bad request\n",
                false,
            );
            drain(&mut s);
            return;
        }
    };
    let first = head.lines().next().unwrap_or("");
    let mut it = first.split(' ');
    let (method, target) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
    let head_only = method == "HEAD";
    let plain = "text/plain; charset=utf-8";
    let code = if method != "GET" && method != "HEAD" {
        let _ = respond_with(
            &mut s,
            405,
            plain,
            b"only GET and HEAD\n",
            false,
            &[("Allow", "GET, HEAD")],
        );
        405
    } else {
        match resolve(target, |rel| root.join(rel).is_dir()) {
            Target::Bad => {
                let _ = respond(&mut s, 400, plain, b"bad path\n", head_only);
                400
            }
            Target::Redirect(to) => {
                let _ = respond_with(&mut s, 301, plain, b"", head_only, &[("Location", &to)]);
                301
            }
            Target::File(rel) => {
                let read = |p: &Path| crate::fsx::read_file_capped(p, MAX_FILE).ok();
                match inside(root, &rel).and_then(|p| read(&p).map(|b| (p, b))) {
                    Some((p, body)) => {
                        let _ = respond(&mut s, 200, content_type(&p), &body, head_only);
                        200
                    }
                    None => {
                        let body = inside(root, "404.html")
                            .and_then(|p| read(&p))
                            .unwrap_or_else(|| b"not found\n".to_vec());
                        let _ = respond(&mut s, 404, "text/html; charset=utf-8", &body, head_only);
                        404
                    }
                }
            }
        }
    };
    log(&format!(
        "{code} {} {}",
        method.chars().take(8).collect::<String>(),
        target.chars().take(200).collect::<String>()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_and_refuses_traversal() {
        let dirs = |r: &str| r == "versions" || r == "versions/1.0";
        assert_eq!(resolve("/", dirs), Target::File("index.html".into()));
        assert_eq!(
            resolve("/versions/1.0/?x=1", dirs),
            Target::File("versions/1.0/index.html".into())
        );
        assert_eq!(
            resolve("/versions", dirs),
            Target::Redirect("/versions/".into())
        );
        assert_eq!(
            resolve("/style.css", dirs),
            Target::File("style.css".into())
        );
        for bad in [
            "/../etc/passwd",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E%2Fetc",
            "/a%5c..%5cb",
            "/a%00b",
            "x",
            "/%zz",
            "/./a",
            "/.speclog-site-state",
            "/.speclog-site-model",
            "//.speclog-site-model.tmp",
        ] {
            assert_eq!(resolve(bad, dirs), Target::Bad, "{bad}");
        }
    }

    #[test]
    fn serves_files_and_404s() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("index.html"), "<p>home</p>").unwrap();
        std::fs::write(d.path().join("404.html"), "gone").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("leak")).unwrap();
        let l = bind(0).unwrap();
        let addr = l.local_addr().unwrap();
        let dir = d.path().to_path_buf();
        let t = std::thread::spawn(move || serve(&dir, l, Some(5), Arc::new(|_: &str| {})));
        let get = |req: &str| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(req.as_bytes()).unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let r = get("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("text/html") && r.ends_with("<p>home</p>"), "{r}");
        let r = get("GET /../../etc/passwd HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
        let r = get("GET /leak HTTP/1.1\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 404") && !r.contains("s3cret"),
            "{r}"
        );
        let r = get("POST / HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 405"), "{r}");
        let r = get(&format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000)));
        assert!(r.starts_with("HTTP/1.1 431"), "{r}");
        t.join().unwrap().unwrap();
    }
}
