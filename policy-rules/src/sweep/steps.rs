//! From a sweep's planned change to what applying it takes, for an enforcing live sweep: the
//! exact `(action, resource)` pairs of a `deny` change (added to Warden's Deny on the principal,
//! as the live path adds them), or the one connector step of an `undo` change, made from the live state of
//! the bucket read just before the change, never from the sweep's read (which may be hours old):
//!
//! - `remove-outside-grants`: the live policy with exactly its grants outside the account (and the
//!   trusted accounts) taken out (`bucket::remove_outside_grants`), written only while the live
//!   policy is still the one it was made from (`Step::expect`); deleted when nothing is left;
//! - `remove-public-acl-grants`: `PutBucketAcl` without the `AllUsers`/`AuthenticatedUsers` grants
//!   (the connector keeps every other grant);
//! - `put-public-access-block`: the live block with the finding's flags turned on (the others as
//!   they are), only while the block is the one read, and only while nothing public would lose its
//!   access (`OnlyIfNothingPublic`: a public policy or ACL is its own finding, undone first).
//!
//! The account's own public access block is never turned on by a sweep: it changes every bucket
//! of the account at once, which is not narrow, so a person decides.

use super::Change;
use crate::planner::Step;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The pairs of a `deny` change, deduplicated, in order.
pub fn deny_pairs(change: &Change) -> Vec<(String, String)> {
    let mut out = change.pairs.clone();
    out.sort();
    out.dedup();
    out
}

/// The bucket an `undo` change is about (`arn:aws:s3:::name`), or why it is not one.
pub fn bucket_of(change: &Change) -> Result<&str, String> {
    change
        .target
        .split_once(":s3:::")
        .map(|(_, b)| b)
        .filter(|b| !b.is_empty() && !b.contains('/'))
        .ok_or_else(|| {
            format!(
                "`{}` is not a bucket: a sweep changes only buckets' policies, ACLs and blocks (the account's public access block changes every bucket at once, so a person decides)",
                change.target
            )
        })
}

fn step(call: &str, bucket: &str, precondition: String) -> Step {
    Step {
        call: call.to_owned(),
        params: BTreeMap::from([("Bucket".to_owned(), json!(bucket))]),
        precondition,
        expect: None,
    }
}

/// The step that makes an `undo` change on the bucket whose live state (as its connector reads
/// it: the policy document or `null`, the block's flags or `null`) is `live`; `Err`: why it cannot
/// be made (nothing to remove any more, surgery refused), for a person.
pub fn undo_step(
    change: &Change,
    live: &Value,
    account: &str,
    trusted: &[String],
) -> Result<Step, String> {
    let bucket = bucket_of(change)?;
    match change.step {
        "remove-outside-grants" => {
            if live.is_null() {
                return Err(format!("`{bucket}` has no bucket policy any more"));
            }
            let doc = crate::policy::PolicyDocument::from_value(live)
                .map_err(|e| format!("the live policy of `{bucket}` does not read: {e}"))?;
            let surgery = crate::bucket::remove_outside_grants(&doc, account, trusted)
                .map_err(|e| format!("bucket-policy surgery on `{bucket}` refused: {e}"))?;
            let why = format!(
                "the live policy is still the one read just before; {}",
                surgery.changes.join("; ")
            );
            let mut s = if surgery.policy.statements.is_empty() {
                step("s3:DeleteBucketPolicy", bucket, why)
            } else {
                let mut s = step("s3:PutBucketPolicy", bucket, why);
                s.params.insert(
                    "Policy".to_owned(),
                    serde_json::to_value(&surgery.policy).map_err(|e| e.to_string())?,
                );
                s
            };
            s.expect = Some(live.clone());
            Ok(s)
        }
        "remove-public-acl-grants" => Ok(step(
            "s3:PutBucketAcl",
            bucket,
            "the ACL still grants to everyone or to every AWS account; only those grants go"
                .to_owned(),
        )),
        "put-public-access-block" => {
            const FLAGS: [&str; 4] = [
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            ];
            let on: Vec<&str> = change
                .detail
                .iter()
                .filter_map(|d| d.strip_suffix("=true"))
                .collect();
            if let Some(bad) = on.iter().find(|f| !FLAGS.contains(f)) {
                return Err(format!("`{bad}` is not a public access block setting"));
            }
            let flag = |f: &str| on.contains(&f) || live.get(f) == Some(&Value::Bool(true));
            let want: serde_json::Map<String, Value> = FLAGS
                .iter()
                .map(|f| ((*f).to_owned(), Value::Bool(flag(f))))
                .collect();
            let mut s = step(
                "s3:PutPublicAccessBlock",
                bucket,
                format!(
                    "the block is still the one read just before, and nothing public loses its access; turns on {}",
                    on.join(", ")
                ),
            );
            s.params.insert(
                "PublicAccessBlockConfiguration".to_owned(),
                Value::Object(want),
            );
            s.params
                .insert("OnlyIfNothingPublic".to_owned(), Value::Bool(true));
            s.params.insert("Account".to_owned(), json!(account));
            s.expect = (!live.is_null()).then(|| live.clone());
            Ok(s)
        }
        other => Err(format!("`{other}` is not a change a sweep applies")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn change(step: &'static str, target: &str, detail: &[&str]) -> Change {
        Change {
            step,
            target: target.to_owned(),
            detail: detail.iter().map(|d| (*d).to_owned()).collect(),
            pairs: Vec::new(),
        }
    }

    #[test]
    fn deny_pairs_are_the_exact_pairs_not_the_words() {
        let mut c = change(
            "deny",
            "arn:aws:iam::111122223333:user/bob",
            &["arn:aws:s3:::b/my key: s3:GetObject"],
        );
        let key = (
            "s3:GetObject".to_owned(),
            "arn:aws:s3:::b/my key".to_owned(),
        );
        c.pairs = vec![key.clone(), key.clone()];
        assert_eq!(deny_pairs(&c), vec![key]);
    }

    #[test]
    fn outside_grants_are_cut_from_the_live_policy_not_the_swept_one() {
        let live = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "Mine", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}
        ]});
        let s = undo_step(
            &change("remove-outside-grants", "arn:aws:s3:::b", &[]),
            &live,
            "111122223333",
            &[],
        )
        .unwrap();
        assert_eq!(s.call, "s3:PutBucketPolicy");
        assert_eq!(s.expect.as_ref(), Some(&live));
        let kept = &s.params["Policy"]["Statement"];
        assert_eq!(kept.as_array().unwrap().len(), 1);
        assert_eq!(kept[0]["Sid"], "Mine");
        assert!(s.precondition.contains("`Public`"), "{}", s.precondition);
    }

    #[test]
    fn a_policy_of_outside_grants_only_is_deleted() {
        let live = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "s3:*", "Resource": "*"}]});
        let s = undo_step(
            &change("remove-outside-grants", "arn:aws:s3:::b", &[]),
            &live,
            "111122223333",
            &[],
        )
        .unwrap();
        assert_eq!(s.call, "s3:DeleteBucketPolicy");
        assert_eq!(s.params["Bucket"], "b");
    }

    #[test]
    fn nothing_to_remove_any_more_is_said_not_applied() {
        let inside = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:*", "Resource": "*"}]});
        let c = change("remove-outside-grants", "arn:aws:s3:::b", &[]);
        let e = undo_step(&c, &inside, "111122223333", &[]).unwrap_err();
        assert!(e.contains("refused"), "{e}");
        let e = undo_step(&c, &Value::Null, "111122223333", &[]).unwrap_err();
        assert!(e.contains("no bucket policy any more"), "{e}");
    }

    #[test]
    fn the_block_turns_on_the_finding_flags_and_keeps_the_others() {
        let live = json!({"BlockPublicAcls": true, "IgnorePublicAcls": false, "BlockPublicPolicy": false, "RestrictPublicBuckets": false});
        let c = change(
            "put-public-access-block",
            "arn:aws:s3:::b",
            &["BlockPublicPolicy=true"],
        );
        let s = undo_step(&c, &live, "111122223333", &[]).unwrap();
        assert_eq!(
            s.params["PublicAccessBlockConfiguration"],
            json!({"BlockPublicAcls": true, "IgnorePublicAcls": false, "BlockPublicPolicy": true, "RestrictPublicBuckets": false})
        );
        assert_eq!(s.params["OnlyIfNothingPublic"], true);
        assert_eq!(s.expect, Some(live));
        // No block at all: nothing to expect (the connector reads "none" as the state left).
        let s = undo_step(&c, &Value::Null, "111122223333", &[]).unwrap();
        assert_eq!(s.expect, None);
        assert_eq!(
            s.params["PublicAccessBlockConfiguration"]["BlockPublicPolicy"],
            true
        );
        let bad = change(
            "put-public-access-block",
            "arn:aws:s3:::b",
            &["Everything=true"],
        );
        assert!(undo_step(&bad, &Value::Null, "1", &[]).is_err());
    }

    #[test]
    fn the_account_block_is_left_to_a_person() {
        let c = change(
            "put-public-access-block",
            "arn:aws:iam::111122223333:root",
            &["BlockPublicPolicy=true"],
        );
        let e = undo_step(&c, &Value::Null, "111122223333", &[]).unwrap_err();
        assert!(e.contains("a person decides"), "{e}");
        assert!(bucket_of(&change("deny", "arn:aws:s3:::b/key", &[])).is_err());
    }
}
