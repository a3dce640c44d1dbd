//! Whether a bucket policy in a `PutBucketPolicy` event grants access outside the bucket's account
//! (or the trusted accounts): `Allow` statements whose `Principal` is `*`, `{"AWS": "*"}`, or an
//! account or ARN of another account. Service principals are not "outside". Conditions are not
//! evaluated here: a statement with a condition is still reported, with a note, because a guard must
//! not assume a condition narrows the grant ("Policy evaluation logic", "AWS JSON policy elements:
//! Principal", IAM user guide). The full policy model and evaluator are a later piece of work.

use serde_json::Value;

/// One grant to a principal outside the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideGrant {
    pub statement: String,
    pub principal: String,
    pub conditional: bool,
}

/// The outside grants of a policy document (a JSON object, or a string holding one). `Err` when the
/// document cannot be read as a policy.
pub fn outside_grants(
    policy: &Value,
    account: &str,
    trusted: &[String],
) -> Result<Vec<OutsideGrant>, String> {
    let owned;
    let doc = match policy {
        Value::String(s) => {
            owned = serde_json::from_str::<Value>(s)
                .map_err(|e| format!("the bucket policy is not JSON: {e}"))?;
            &owned
        }
        v => v,
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return Err("the bucket policy has no `Statement`".to_owned()),
    };
    let mut out = Vec::new();
    for (i, st) in statements.into_iter().enumerate() {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let sid = st
            .get("Sid")
            .and_then(Value::as_str)
            .map_or_else(|| format!("#{i}"), str::to_owned);
        let conditional = st
            .get("Condition")
            .is_some_and(|c| c.as_object().is_some_and(|o| !o.is_empty()));
        let principals: Vec<String> = match st.get("Principal") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Object(o)) => o
                .iter()
                .filter(|(k, _)| k.as_str() == "AWS")
                .flat_map(|(_, v)| match v {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                    _ => Vec::new(),
                })
                .collect(),
            _ => Vec::new(),
        };
        for p in principals {
            let principal_account = if p == "*" {
                None
            } else if p.starts_with("arn:") {
                crate::arn::Arn::parse(&p).map(|a| a.account.to_owned())
            } else {
                Some(p.clone())
            };
            let inside = principal_account
                .as_deref()
                .is_some_and(|a| a == account || trusted.iter().any(|t| t == a));
            if !inside {
                out.push(OutsideGrant {
                    statement: sid.clone(),
                    principal: p,
                    conditional,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn public_and_cross_account_grants_are_found() {
        let p = json!({"Statement":[
            {"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"},
            {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","444455556666"]},"Action":"s3:*","Resource":"*"},
            {"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}
        ]});
        let g = outside_grants(&p, "111122223333", &["444455556666".to_owned()]).unwrap();
        assert_eq!(
            g,
            vec![OutsideGrant {
                statement: "Public".into(),
                principal: "*".into(),
                conditional: false
            }]
        );
        assert!(outside_grants(&json!("{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"999999999999\"}}}"), "1", &[]).unwrap().len() == 1);
        assert!(outside_grants(&json!({}), "1", &[]).is_err());
    }

    #[test]
    fn the_stratus_backdoor_bucket_policy_is_outside() {
        let text = include_str!("../../fixtures/policies/stratus_red_team_malicious_policies.json");
        let all: Value = serde_json::from_str(text).unwrap();
        let policy = all["policies"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.contains("s3-backdoor"))
            .unwrap()
            .1;
        let g = outside_grants(policy, "111122223333", &[]).unwrap();
        assert!(!g.is_empty());
    }
}
