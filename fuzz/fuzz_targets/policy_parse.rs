//! `PolicyDocument::parse` on arbitrary UTF-8 (JSON or URL-encoded). A document that parses must
//! round-trip: its compact output parses back to an equal document with the same bytes. It is then
//! evaluated, merged into a Warden Deny, and cut by the bucket-policy surgery. None of it may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_rules::bucket::{remove_outside_grants, remove_principal};
use policy_rules::evaluate::{evaluate, Policies, Request, RequestContext};
use policy_rules::planner::merge_deny;
use policy_rules::policy::PolicyDocument;

mod common;

fuzz_target!(|data: &[u8]| {
    let text = common::utf8_prefix(data);
    let Ok(doc) = PolicyDocument::parse(text) else {
        return;
    };
    let out = doc.to_json();
    let back = PolicyDocument::parse(&out).expect("a parsed policy's output must parse");
    assert_eq!(back, doc, "round trip changed the document");
    assert_eq!(back.to_json(), out, "output is not deterministic");

    let ctx = RequestContext::partial().with("aws:username", &["bob"]);
    for (action, resource) in [("s3:GetObject", "arn:aws:s3:::b/k"), ("iam:PassRole", "arn:aws:iam::1:role/r"), ("ec2:RunInstances", "*")] {
        let req = Request { principal_arn: "arn:aws:iam::1:user/bob", principal_account: "1", action, resource, context: &ctx, ..Default::default() };
        let _ = evaluate(&req, &Policies { identity: &[("fuzz", &doc)], boundary: Some(&doc), resource: Some(("fuzz", &doc)), ..Default::default() });
    }
    let merged = merge_deny(Some(&doc), &[("iam:PutRolePolicy".to_owned(), vec!["arn:aws:iam::1:role/r".to_owned()])], None);
    assert_eq!(merge_deny(Some(&merged), &[], None).to_json(), merged.to_json(), "merge is not idempotent");
    let _ = remove_outside_grants(&doc, "111122223333", &[]);
    let _ = remove_principal(&doc, "arn:aws:iam::1:user/bob", Some(&["s3:GetObject".to_owned()]));
});
