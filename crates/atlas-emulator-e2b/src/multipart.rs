//! A small `multipart/form-data` reader: enough for envd's `POST /files` (parts named `file`
//! whose `filename` is the destination path), accepting what browsers, undici and Go send:
//! quoted-string parameters with backslash escapes and RFC 2231 `filename*=utf-8''...`.

/// One part of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) name: Option<String>,
    pub(crate) filename: Option<String>,
    pub(crate) data: Vec<u8>,
}

/// The boundary of a `multipart/form-data; boundary=...` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parse_params(params)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty())
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Splits a body into parts.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let mut data = Vec::with_capacity(body.len() + 2);
    data.extend_from_slice(b"\r\n");
    data.extend_from_slice(body);
    let delim = format!("\r\n--{boundary}").into_bytes();
    let mut pos = find(&data, &delim, 0).ok_or("no multipart boundary found")? + delim.len();
    let mut parts = Vec::new();
    loop {
        if data[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        let line_end = find(&data, b"\r\n", pos).ok_or("truncated multipart body")?;
        let headers_start = line_end + 2;
        let headers_end = find(&data, b"\r\n\r\n", headers_start)
            .map(|p| p + 2)
            .or_else(|| {
                data[headers_start..]
                    .starts_with(b"\r\n")
                    .then_some(headers_start)
            })
            .ok_or("multipart part without a header end")?;
        let headers = String::from_utf8_lossy(&data[headers_start..headers_end]).into_owned();
        let content_start = headers_end + 2;
        let next = find(&data, &delim, content_start)
            .ok_or("multipart part without a closing boundary")?;
        let mut part = Part {
            name: None,
            filename: None,
            data: data[content_start..next].to_vec(),
        };
        for line in headers.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            let params = v.split_once(';').map(|(_, p)| p).unwrap_or("");
            for (pk, pv) in parse_params(params) {
                match pk.to_ascii_lowercase().as_str() {
                    "name" => part.name = Some(pv),
                    "filename" if part.filename.is_none() => part.filename = Some(pv),
                    "filename*" => part.filename = Some(decode_rfc2231(&pv)),
                    _ => {}
                }
            }
        }
        parts.push(part);
        pos = next + delim.len();
    }
}

/// `; a=b; c="d \" e"` → [(a, b), (c, d " e)].
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ';' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim().to_owned();
            }
        }
        out.push((key.trim().to_owned(), value));
    }
}

/// `utf-8''%2Fhome%2Fuser` → `/home/user`.
fn decode_rfc2231(v: &str) -> String {
    match v.splitn(3, '\'').nth(2) {
        Some(enc) => crate::percent_decode(enc),
        None => crate::percent_decode(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_undici_and_escaped_names() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/home/user/a.yml\"\r\nContent-Type: application/octet-stream\r\n\r\nname: a\r\n\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/home/user/q\\\"x.yml\"\r\n\r\n\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename*=utf-8''%2Fhome%2Fuser%2F%C3%BC.yml\r\n\r\nb\r\n--XyZ--\r\n";
        let parts = parse(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].filename.as_deref(), Some("/home/user/a.yml"));
        assert_eq!(parts[0].data, b"name: a\r\n");
        assert_eq!(parts[1].filename.as_deref(), Some("/home/user/q\"x.yml"));
        assert!(parts[1].data.is_empty());
        assert_eq!(parts[2].filename.as_deref(), Some("/home/user/\u{fc}.yml"));
        assert_eq!(parts[2].name.as_deref(), Some("file"));
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----formdata-undici-0123").as_deref(),
            Some("----formdata-undici-0123")
        );
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/json"), None);
        assert!(parse(b"garbage", "B").is_err());
    }
}
