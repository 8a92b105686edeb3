//! `portcullis health`: asks a running server's `/health` and says whether it is healthy, for
//! container health checks (the distroless image has no curl). Plain HTTP/1.1 over one TCP
//! connection, bounded by a timeout; no TLS, as the server speaks none.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The answer of a healthy server, or why the server is not healthy.
pub fn check(url: &str, timeout: Duration) -> Result<String, String> {
    let (host, port, path) = parse(url)?;
    let addrs = (host.trim_start_matches('[').trim_end_matches(']'), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last_error = format!("{host} has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return ask(stream, &format!("{host}:{port}"), &path, timeout),
            Err(e) => last_error = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last_error)
}

fn ask(mut stream: TcpStream, host: &str, path: &str, timeout: Duration) -> Result<String, String> {
    let io = |e: std::io::Error| format!("{host}: {e}");
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: portcullis-health\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    // The answer is small; more than this is not a health answer.
    let mut response = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut response).map_err(io)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("");
    let code = status.split_whitespace().nth(1).unwrap_or("");
    let body = body.trim();
    if code == "200" {
        Ok(body.to_owned())
    } else if status.starts_with("HTTP/") {
        Err(format!("{host}{path} answered {}: {body}", status.split_once(' ').map_or(status, |(_, rest)| rest)))
    } else {
        Err(format!("{host}{path} did not answer HTTP"))
    }
}

/// `http://host[:port]/path` → (host, port, path); IPv6 hosts keep their brackets.
fn parse(url: &str) -> Result<(String, u16, String), String> {
    let rest = match url.split_once("://") {
        Some(("http", rest)) => rest,
        Some((scheme, _)) => return Err(format!("--url: only http:// is supported, not {scheme}://")),
        None => url,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/health"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse::<u16>().map_err(|_| format!("--url: bad port '{p}'"))?),
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("--url: no host in '{url}'"));
    }
    Ok((host.to_owned(), port, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_into_host_port_and_path() {
        assert_eq!(parse("http://127.0.0.1:3567/health").unwrap(), ("127.0.0.1".into(), 3567, "/health".into()));
        assert_eq!(parse("localhost:8080").unwrap(), ("localhost".into(), 8080, "/health".into()));
        assert_eq!(parse("http://[::1]:1/a/health").unwrap(), ("[::1]".into(), 1, "/a/health".into()));
        assert_eq!(parse("http://[::1]/x").unwrap(), ("[::1]".into(), 80, "/x".into()));
        assert!(parse("https://h/health").unwrap_err().contains("only http://"));
        assert!(parse("http://h:99999/").is_err());
    }

    #[test]
    fn an_answer_other_than_200_is_unhealthy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let serve = |status: &'static str| {
            let l = listener.try_clone().unwrap();
            std::thread::spawn(move || {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                s.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\n\r\n{{}}").as_bytes()).unwrap();
            })
        };
        let url = format!("http://127.0.0.1:{port}/health");
        let t = serve("200 OK");
        assert_eq!(check(&url, Duration::from_secs(5)), Ok("{}".into()));
        t.join().unwrap();
        let t = serve("503 Service Unavailable");
        assert!(check(&url, Duration::from_secs(5)).unwrap_err().contains("answered 503 Service Unavailable"));
        t.join().unwrap();
        drop(listener);
        assert!(check(&url, Duration::from_secs(5)).unwrap_err().contains("cannot connect"));
    }
}
