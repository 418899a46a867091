//! RFC 7512 `pkcs11:` URIs: which token and object hold a key, and optionally
//! the module and the PIN.
//!
//! `pkcs11:token=speclog;object=alice;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234`
//!
//! Path attributes (RFC 7512 section 2.3) are separated by `;`, query
//! attributes by `&`; values are percent-decoded (section 2.3, `pk11-pchar`).
//! Unknown path attributes make the URI match nothing (section 2.3: "a URI
//! with an unrecognised attribute ... MUST be treated as not matching"), so
//! they are refused here with a clear error; unknown query attributes are
//! ignored. The `pin-value` is a secret: [`Pkcs11Uri::redacted`] is the form
//! that is printed, logged or stored.

use zeroize::Zeroizing;

use super::KeyError;

/// A parsed `pkcs11:` URI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// Token label (`token=`).
    pub token: Option<String>,
    /// Token manufacturer, model and serial number.
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    /// Slot id (`slot-id=`, a decimal number).
    pub slot_id: Option<u64>,
    /// Object label (`object=`, CKA_LABEL).
    pub object: Option<String>,
    /// Object id (`id=`, CKA_ID bytes).
    pub id: Option<Vec<u8>>,
    /// Object type (`type=`): only `private`, `public` or absent make sense for a signing key.
    pub kind: Option<String>,
    /// `module-path=` (query).
    pub module_path: Option<String>,
    /// `pin-value=` (query): the PIN itself.
    pub pin_value: Option<Zeroizing<String>>,
    /// `pin-source=` (query): a file holding the PIN (`file:` URI or a path).
    pub pin_source: Option<String>,
}

const PATH_ATTRS: &[&str] = &[
    "token",
    "manufacturer",
    "model",
    "serial",
    "slot-id",
    "object",
    "id",
    "type",
    "library-manufacturer",
    "library-description",
    "library-version",
    "slot-description",
    "slot-manufacturer",
];

impl Pkcs11Uri {
    /// Parses a `pkcs11:` URI. Errors never repeat the URI's `pin-value`.
    pub fn parse(s: &str) -> Result<Pkcs11Uri, KeyError> {
        let bad = |why: String| KeyError::BadUri {
            uri: redact(s),
            why,
        };
        if s.len() > 4096 {
            return Err(bad("it is over 4096 bytes".into()));
        }
        let Some(rest) = s.strip_prefix("pkcs11:") else {
            return Err(bad("it does not start with pkcs11:".into()));
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut u = Pkcs11Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| bad(format!("path attribute {attr:?} has no '='")))?;
            let raw = pct_decode(v).map_err(|e| bad(format!("{k}: {e}")))?;
            let text =
                || String::from_utf8(raw.clone()).map_err(|_| bad(format!("{k} is not UTF-8")));
            let slot = match k {
                "token" => &mut u.token,
                "manufacturer" => &mut u.manufacturer,
                "model" => &mut u.model,
                "serial" => &mut u.serial,
                "object" => &mut u.object,
                "type" => &mut u.kind,
                "slot-id" => {
                    u.slot_id = Some(
                        text()?
                            .parse()
                            .map_err(|_| bad("slot-id is not a number".into()))?,
                    );
                    continue;
                }
                "id" => {
                    u.id = Some(raw);
                    continue;
                }
                k if PATH_ATTRS.contains(&k) => continue,
                k => return Err(bad(format!("unknown path attribute {k:?}"))),
            };
            if slot.is_some() {
                return Err(bad(format!("attribute {k} is given twice")));
            }
            *slot = Some(text()?);
        }
        if let Some(t) = &u.kind
            && t != "private"
            && t != "public"
        {
            return Err(bad(format!(
                "type={t} cannot name a signing key (use type=private)"
            )));
        }
        for attr in query.unwrap_or("").split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            let raw = Zeroizing::new(pct_decode(v).map_err(|e| bad(format!("{k}: {e}")))?);
            let text =
                || String::from_utf8(raw.to_vec()).map_err(|_| bad(format!("{k} is not UTF-8")));
            match k {
                "module-path" => u.module_path = Some(text()?),
                "pin-value" => u.pin_value = Some(Zeroizing::new(text()?)),
                "pin-source" => u.pin_source = Some(text()?),
                _ => {}
            }
        }
        Ok(u)
    }

    /// The URI without its `pin-value`: safe to print, log and store.
    pub fn redacted(&self) -> String {
        let enc = |v: &Option<String>| v.as_ref().map(|v| pct_encode(v.as_bytes()));
        let fields = [
            ("token", enc(&self.token)),
            ("manufacturer", enc(&self.manufacturer)),
            ("model", enc(&self.model)),
            ("serial", enc(&self.serial)),
            ("slot-id", self.slot_id.map(|n| n.to_string())),
            ("object", enc(&self.object)),
            ("id", self.id.as_deref().map(pct_encode_all)),
            ("type", enc(&self.kind)),
        ];
        let path: Vec<String> = fields
            .into_iter()
            .filter_map(|(k, v)| Some(format!("{k}={}", v?)))
            .collect();
        let mut q = Vec::new();
        if let Some(m) = &self.module_path {
            q.push(format!("module-path={}", pct_encode(m.as_bytes())));
        }
        if let Some(m) = &self.pin_source {
            q.push(format!("pin-source={}", pct_encode(m.as_bytes())));
        }
        let mut s = format!("pkcs11:{}", path.join(";"));
        if !q.is_empty() {
            s.push('?');
            s.push_str(&q.join("&"));
        }
        s
    }
}

/// `s` with the value of any `pin-value` query attribute replaced, for
/// messages about a URI that did not parse.
pub fn redact(s: &str) -> String {
    let Some((path, query)) = s.split_once('?') else {
        return s.chars().take(200).collect();
    };
    let q: Vec<String> = query
        .split('&')
        .map(|a| match a.split_once('=') {
            Some(("pin-value", _)) => "pin-value=(hidden)".to_string(),
            _ => a.to_string(),
        })
        .collect();
    format!("{path}?{}", q.join("&"))
        .chars()
        .take(200)
        .collect()
}

fn pct_decode(v: &str) -> Result<Vec<u8>, String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at byte {i}"))?;
            out.push(h);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// RFC 7512 `pk11-pchar`: unreserved characters and `:[]@!$'()*+,=&` stay as they are.
fn pct_encode(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        if c.is_ascii_alphanumeric() || b"-._~:[]@!$'()*+,=&/".contains(&c) {
            s.push(c as char);
        } else {
            s.push_str(&format!("%{c:02x}"));
        }
    }
    s
}

/// Every byte percent-encoded (RFC 7512 recommends it for `id`).
fn pct_encode_all(b: &[u8]) -> String {
    b.iter().map(|c| format!("%{c:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc7512_examples_and_redacts_the_pin() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;object=my-key;id=%01%02;type=private?pin-value=12%2034&module-path=/usr/lib/x.so",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("The Software PKCS#11 Softtoken"));
        assert_eq!(u.object.as_deref(), Some("my-key"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(u.pin_value.as_deref().map(String::as_str), Some("12 34"));
        let r = u.redacted();
        assert!(!r.contains("pin"), "{r}");
        assert_eq!(
            Pkcs11Uri::parse(&r).unwrap(),
            Pkcs11Uri {
                pin_value: None,
                ..u
            }
        );
        assert_eq!(
            redact("pkcs11:object=a?pin-value=secret&x=1"),
            "pkcs11:object=a?pin-value=(hidden)&x=1"
        );
        for bad in [
            "pkcs12:object=a",
            "pkcs11:object",
            "pkcs11:frobnicate=1",
            "pkcs11:object=a;object=b",
            "pkcs11:object=%zz",
            "pkcs11:type=cert",
            "pkcs11:slot-id=x",
        ] {
            let e = Pkcs11Uri::parse(bad).unwrap_err();
            assert!(matches!(e, KeyError::BadUri { .. }), "{bad}: {e}");
        }
        let e = Pkcs11Uri::parse("pkcs11:frob=1?pin-value=topsecret").unwrap_err();
        assert!(!e.to_string().contains("topsecret"), "{e}");
    }
}
