//! Reading the request body's fields from any of the three encodings. The body
//! is already in memory (it is small and bounded), so multipart is split in place
//! rather than streamed.

use memchr::memmem;

/// Why a body could not be read; the caller turns it into a 4xx.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    Malformed(&'static str),
    UnsupportedType,
    /// A JSON value that is not text or a number.
    NotText(String),
}

/// The fields of `body`, in order, decoded as `content_type` says.
pub fn fields(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, BodyError> {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "multipart/form-data" => {
            let boundary = parameter(content_type, "boundary")
                .ok_or(BodyError::Malformed("Malformed multipart body"))?;
            multipart(body, &boundary).ok_or(BodyError::Malformed("Malformed multipart body"))
        }
        "application/x-www-form-urlencoded" => {
            serde_urlencoded::from_bytes(body).map_err(|_| BodyError::Malformed("Malformed form body"))
        }
        "application/json" => {
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(body).map_err(|_| BodyError::Malformed("Malformed JSON body"))?;
            object
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => Ok((k, s)),
                    serde_json::Value::Number(n) => Ok((k, n.to_string())),
                    _ => Err(BodyError::NotText(k)),
                })
                .collect()
        }
        _ => Err(BodyError::UnsupportedType),
    }
}

/// A `key=value` parameter of a header value, unquoted (`boundary="a b"`).
fn parameter(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case(key) {
            return None;
        }
        let v = v.trim();
        Some(v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v).to_owned())
    })
}

/// Splits a `multipart/form-data` body into (name, text) parts (RFC 7578).
fn multipart(body: &[u8], boundary: &str) -> Option<Vec<(String, String)>> {
    if boundary.is_empty() || boundary.len() > 200 {
        return None;
    }
    let delimiter = format!("\r\n--{boundary}");
    let finder = memmem::Finder::new(delimiter.as_bytes());
    // The first delimiter may open the body without the leading CRLF.
    let mut rest = match body.strip_prefix(&delimiter.as_bytes()[2..]) {
        Some(after) => after,
        None => &body[finder.find(body)? + delimiter.len()..],
    };
    let mut fields = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(fields);
        }
        rest = skip_transport_padding(rest).strip_prefix(b"\r\n")?;
        let headers_end = memmem::find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..headers_end]).ok()?;
        let content = &rest[headers_end + 4..];
        let end = finder.find(content)?;
        let name = headers.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case("content-disposition").then(|| parameter(value, "name")).flatten()
        })?;
        fields.push((name, String::from_utf8(content[..end].to_vec()).ok()?));
        rest = &content[end + delimiter.len()..];
    }
}

/// Whitespace allowed after a delimiter, before its CRLF.
fn skip_transport_padding(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(body: &str, ct: &str) -> Result<Vec<(String, String)>, BodyError> {
        fields(ct, body.as_bytes())
    }

    #[test]
    fn splits_multipart_as_clients_send_it() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"nik\"\r\n\r\n3171014508900001\r\n\
                    --XyZ\r\ncontent-disposition: form-data; name=\"name\"\r\nContent-Type: text/plain\r\n\r\nSITI\r\nRAHAYU\r\n\
                    --XyZ--\r\n";
        let got = parts(body, "multipart/form-data; boundary=XyZ").unwrap();
        assert_eq!(
            got,
            vec![("nik".into(), "3171014508900001".into()), ("name".into(), "SITI\r\nRAHAYU".into())]
        );
        let quoted = parts(&format!("preamble\r\n{body}"), "Multipart/Form-Data; boundary=\"XyZ\"").unwrap();
        assert_eq!(quoted.len(), 2);
    }

    #[test]
    fn rejects_broken_multipart() {
        for (body, ct) in [
            (
                "--XyZ\r\nContent-Disposition: form-data; name=\"nik\"\r\n\r\n123",
                "multipart/form-data; boundary=XyZ",
            ),
            (
                "--XyZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XyZ--",
                "multipart/form-data; boundary=XyZ",
            ),
            ("--XyZ--", "multipart/form-data"),
        ] {
            assert_eq!(parts(body, ct), Err(BodyError::Malformed("Malformed multipart body")), "{body:?}");
        }
        assert_eq!(parts("--XyZ--\r\n", "multipart/form-data; boundary=XyZ"), Ok(vec![]));
    }

    #[test]
    fn reads_forms_and_json() {
        assert_eq!(
            parts("nik=3171014508900001&name=SITI+RAHAYU", "application/x-www-form-urlencoded").unwrap()[1],
            ("name".into(), "SITI RAHAYU".into())
        );
        assert_eq!(
            parts(r#"{"nik":"1","rt":7,"x":null}"#, "application/json; charset=utf-8").unwrap().len(),
            2
        );
        assert_eq!(parts(r#"{"nik":true}"#, "application/json"), Err(BodyError::NotText("nik".into())));
        assert_eq!(parts("nik", "text/plain"), Err(BodyError::UnsupportedType));
    }
}
