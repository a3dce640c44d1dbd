//! One spelling of query-protocol bodies (IAM, SNS, STS, CloudFormation): the request body
//! re-encoded as `application/x-www-form-urlencoded` the way Python's `urllib.parse.urlencode`
//! writes it (letters, digits and `_.-~` as is, a space as `+`, every other byte `%XX`), before the
//! request is signed.
//!
//! Why: the SDK writes a space as `%20`. AWS accepts either spelling, since it signs the bytes it
//! receives. The local AWS (moto) does not: it checks a signature against the body it rebuilds
//! from the parsed form (`botocore`'s `urlencode`, space as `+`), so any parameter with a space (an
//! SNS message, a policy document with spaces) failed its signature check with HTTP 403 while
//! policy enforcement was on. With one spelling that both accept, the whole flow runs with
//! enforcement on. The parameters, their order and their values are unchanged; only bytes that
//! mean the same are rewritten, so this is safe against AWS as well (`botocore` sends exactly this).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use percent_encoding::{percent_decode, percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What `urllib.parse.quote_plus` leaves as is, besides letters and digits (and the space, which
/// becomes `+`).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b' ');

/// The interceptor; add it to the clients of query-protocol services.
#[derive(Debug, Default)]
pub struct FormEncoding;

/// `body` re-encoded.
pub fn reencode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 8);
    for (i, pair) in body.split(|b| *b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        let mut parts = pair.splitn(2, |b| *b == b'=');
        let key = parts.next().unwrap_or_default();
        write_component(&mut out, key);
        if let Some(value) = parts.next() {
            out.push(b'=');
            write_component(&mut out, value);
        }
    }
    out
}

fn write_component(out: &mut Vec<u8>, encoded: &[u8]) {
    // `+` means a space in a form body; a literal plus is `%2B`.
    let spaced: Vec<u8> = encoded
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let raw: Vec<u8> = percent_decode(&spaced).collect();
    for piece in percent_encode(&raw, FORM) {
        out.extend(piece.bytes().map(|b| if b == b' ' { b'+' } else { b }));
    }
}

impl Intercept for FormEncoding {
    fn name(&self) -> &'static str {
        "FormEncoding"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let is_form = request
            .headers()
            .get("content-type")
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Ok(());
        }
        let Some(new) = request.body().bytes().map(reencode) else {
            return Ok(());
        };
        let length = new.len().to_string();
        *request.body_mut() = SdkBody::from(new);
        request.headers_mut().insert("content-length", length);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(s: &str) -> String {
        String::from_utf8(reencode(s.as_bytes())).unwrap()
    }

    #[test]
    fn spaces_become_plus_and_the_rest_keeps_its_meaning() {
        assert_eq!(
            re("Action=Publish&Message=a%20b%28c%29%23%3C%C3%A9&Version=2010-03-31"),
            "Action=Publish&Message=a+b%28c%29%23%3C%C3%A9&Version=2010-03-31"
        );
        // A literal plus stays a plus; an already-standard body is unchanged.
        assert_eq!(re("A=1%2B1&B=x+y"), "A=1%2B1&B=x+y");
        assert_eq!(re("A=&B"), "A=&B");
        assert_eq!(re("Tags.member.1.Key=k_.-~"), "Tags.member.1.Key=k_.-~");
    }
}
