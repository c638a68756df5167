//! Signature algorithms as pure functions, checked against the known-answer
//! vectors in `tests/data/signature-vectors.json`.
//!
//! Both sides use these: a vendor's protocol module signs outgoing requests
//! with them and the emulator recomputes them to verify incoming ones. They
//! hold no vendor policy (which headers must be signed, time windows): that
//! lives in each vendor's module.
//!
//! - Alibaba RPC V1: `Base64(HMAC-SHA1(secret + "&", Method&%2F&pct(query)))`.
//! - Alibaba ACS3: `hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(sha256(CanonicalRequest))))`.
//! - Volcengine and AWS SigV4 (Ksyun) share one shape, a derived key over
//!   `date/region/service/terminator`; they differ in the algorithm name, the
//!   key prefix and the terminator ([`V4Scheme`]).

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// RFC 3986: everything but `A-Z a-z 0-9 - _ . ~` is escaped, hex uppercase.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

pub fn pct(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub fn hmac_sha1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// Constant-time comparison of two signatures.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Sorted `pct(k)=pct(v)` joined by `&` (by encoded name, then value).
pub fn canonical_query(params: &[(String, String)]) -> String {
    query_string(params, false)
}

/// [`canonical_query`] with the old openapi-util quirk: an empty value is
/// written as the bare key (`empty&test=ok`, not `empty=&test=ok`).
/// `shared/reference/vendor-protocols.md` §2.5 step 3; vector A-5.
pub fn canonical_query_bare_empty(params: &[(String, String)]) -> String {
    query_string(params, true)
}

fn query_string(params: &[(String, String)], bare_empty: bool) -> String {
    let mut enc: Vec<(String, String)> = params.iter().map(|(k, v)| (pct(k), pct(v))).collect();
    enc.sort();
    let pair = |(k, v): &(String, String)| if bare_empty && v.is_empty() { k.clone() } else { format!("{k}={v}") };
    enc.iter().map(pair).collect::<Vec<_>>().join("&")
}

/// How a vendor canonicalizes signed header values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRules {
    /// Repeated values are sorted before they are comma-joined (else they
    /// keep their arrival order).
    pub sort_repeated: bool,
    /// "Trimall": internal whitespace runs become one space (else values are
    /// only trimmed).
    pub collapse_whitespace: bool,
}

impl HeaderRules {
    /// Alibaba ACS3 (tea-openapi `get_canonicalized_headers`): trimmed,
    /// repeated values sorted.
    pub const ALIYUN: HeaderRules = HeaderRules { sort_repeated: true, collapse_whitespace: false };
    /// Volcengine (doc "Trimall", the Node SDK): whitespace runs collapsed,
    /// arrival order.
    pub const VOLCENGINE: HeaderRules = HeaderRules { sort_repeated: false, collapse_whitespace: true };
    /// AWS SigV4 as specified (Trimall, arrival order), as requests-aws4auth
    /// signs (the kingsoftcloud SDK).
    pub const AWS4: HeaderRules = HeaderRules { sort_repeated: false, collapse_whitespace: true };
    /// kscore 1.3.65 (`SigV4Auth.canonical_headers`, an old botocore):
    /// trimmed only, repeated values sorted.
    pub const KSCORE: HeaderRules = HeaderRules { sort_repeated: true, collapse_whitespace: false };
    /// Trimmed, arrival order.
    pub const TRIM: HeaderRules = HeaderRules { sort_repeated: false, collapse_whitespace: false };
}

/// `name:value\n` for each signed header, names lowercased and sorted, values
/// trimmed, repeated headers joined with `,`. `headers` is every header of the
/// request; names are matched case-insensitively.
pub fn canonical_headers(headers: &[(String, String)], signed: &[String]) -> String {
    canonical_headers_with(headers, signed, HeaderRules::TRIM)
}

/// [`canonical_headers`] under a vendor's [`HeaderRules`].
pub fn canonical_headers_with(headers: &[(String, String)], signed: &[String], rules: HeaderRules) -> String {
    let mut names: Vec<String> = signed.iter().map(|s| s.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let mut out = String::new();
    for n in &names {
        // Borrowed unless a whitespace run really has to be collapsed.
        let mut vals: Vec<std::borrow::Cow<str>> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| {
                let t = v.trim();
                let runs = t.contains(char::is_whitespace) && t.split(char::is_whitespace).any(|w| w.is_empty())
                    || t.contains(|c: char| c.is_whitespace() && c != ' ');
                match rules.collapse_whitespace && runs {
                    true => std::borrow::Cow::Owned(t.split_whitespace().collect::<Vec<_>>().join(" ")),
                    false => std::borrow::Cow::Borrowed(t),
                }
            })
            .collect();
        if rules.sort_repeated {
            vals.sort();
        }
        out.push_str(n);
        out.push(':');
        out.push_str(&vals.join(","));
        out.push('\n');
    }
    out
}

/// `Method\nPath\nQuery\nCanonicalHeaders\nSignedHeaders\nPayloadHash`.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}")
}

/// Alibaba RPC V1: the string to sign.
pub fn rpc_v1_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    let q: Vec<(String, String)> = params.iter().filter(|(k, _)| k != "Signature").cloned().collect();
    format!("{method}&{}&{}", pct("/"), pct(&canonical_query(&q)))
}

/// Alibaba RPC V1: Base64(HMAC-SHA1(secret&, string_to_sign)).
pub fn rpc_v1_signature(secret: &str, string_to_sign: &str) -> String {
    let mac = hmac_sha1(format!("{secret}&").as_bytes(), string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac)
}

/// Alibaba ACS3-HMAC-SHA256: (string to sign, hex signature).
pub fn acs3_signature(secret: &str, canonical_request: &str) -> (String, String) {
    let sts = format!("ACS3-HMAC-SHA256\n{}", sha256_hex(canonical_request.as_bytes()));
    let sig = hex(&hmac_sha256(secret.as_bytes(), sts.as_bytes()));
    (sts, sig)
}

/// The parameters of a derived-key HMAC-SHA256 scheme.
#[derive(Debug, Clone, Copy)]
pub struct V4Scheme {
    pub algorithm: &'static str,
    pub key_prefix: &'static str,
    pub terminator: &'static str,
}

/// Who signs, for [`V4Scheme::authorization`].
pub struct SigningKey<'a> {
    pub access_key_id: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// Volcengine's "SignerV4".
pub const VOLCENGINE: V4Scheme = V4Scheme { algorithm: "HMAC-SHA256", key_prefix: "", terminator: "request" };

/// AWS Signature Version 4, as Ksyun uses it.
pub const AWS4: V4Scheme = V4Scheme { algorithm: "AWS4-HMAC-SHA256", key_prefix: "AWS4", terminator: "aws4_request" };

impl V4Scheme {
    /// `date/region/service/terminator`.
    pub fn scope(&self, date: &str, region: &str, service: &str) -> String {
        format!("{date}/{region}/{service}/{}", self.terminator)
    }

    pub fn signing_key(&self, secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
        let k_date = hmac_sha256(format!("{}{secret}", self.key_prefix).as_bytes(), date.as_bytes());
        let k_region = hmac_sha256(&k_date, region.as_bytes());
        let k_service = hmac_sha256(&k_region, service.as_bytes());
        hmac_sha256(&k_service, self.terminator.as_bytes())
    }

    /// The `Authorization` header value for a request whose canonical
    /// request is `canonical_request`, signed over `signed_headers`.
    pub fn authorization(
        &self,
        key: &SigningKey,
        datetime: &str,
        signed_headers: &[String],
        canonical_request: &str,
    ) -> String {
        let (_, sig) = self.sign(key.secret, datetime, key.region, key.service, canonical_request);
        format!(
            "{} Credential={}/{}, SignedHeaders={}, Signature={sig}",
            self.algorithm,
            key.access_key_id,
            self.scope(datetime.get(..8).unwrap_or(datetime), key.region, key.service),
            signed_headers.join(";")
        )
    }

    /// (string to sign, hex signature). `datetime` is `YYYYMMDDTHHMMSSZ`.
    pub fn sign(
        &self,
        secret: &str,
        datetime: &str,
        region: &str,
        service: &str,
        canonical_request: &str,
    ) -> (String, String) {
        let date = datetime.get(..8).unwrap_or(datetime);
        let sts = format!(
            "{}\n{datetime}\n{}\n{}",
            self.algorithm,
            self.scope(date, region, service),
            sha256_hex(canonical_request.as_bytes())
        );
        let key = self.signing_key(secret, date, region, service);
        (sts.clone(), hex(&hmac_sha256(&key, sts.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_encoding() {
        assert_eq!(pct(" ~/*-+"), "%20~%2F%2A-%2B");
        assert_eq!(pct("中"), "%E4%B8%AD");
    }

    #[test]
    fn header_values_per_vendor_rules() {
        let h = |v: &[&str]| v.iter().map(|v| ("X-A".to_string(), v.to_string())).collect::<Vec<_>>();
        let signed = ["x-a".to_string()];
        let two = h(&["b  c ", " a"]);
        assert_eq!(canonical_headers_with(&two, &signed, HeaderRules::ALIYUN), "x-a:a,b  c\n");
        assert_eq!(canonical_headers_with(&two, &signed, HeaderRules::VOLCENGINE), "x-a:b c,a\n");
        assert_eq!(canonical_headers_with(&two, &signed, HeaderRules::AWS4), "x-a:b c,a\n");
        assert_eq!(canonical_headers_with(&two, &signed, HeaderRules::KSCORE), "x-a:a,b  c\n");
        assert_eq!(canonical_headers(&two, &signed), "x-a:b  c,a\n");
    }

    #[test]
    fn bare_empty_query_keys() {
        let q = vec![("test".to_string(), "ok".to_string()), ("empty".to_string(), String::new())];
        assert_eq!(canonical_query_bare_empty(&q), "empty&test=ok");
        assert_eq!(canonical_query(&q), "empty=&test=ok");
    }

    #[test]
    fn constant_time_compare() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
