//! The real CloudTrail fixtures: every record parses, the known non-event is reported as an error,
//! and for every IAM, STS and S3 write event the caller, the action(s) and the resource(s) Warden
//! derives are pinned in a table written by reading each event against the AWS documentation (see the
//! notes beside the surprising rows). A new fixture event must get a row: the count is checked.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use policy_rules::catalog::Catalog;
use policy_rules::event::parse_document;
use policy_rules::mapping::analyse;
use std::path::PathBuf;

fn fixtures(dir: &str) -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// Each document of a fixture file: JSON Lines files line by line, other files whole.
fn documents(name: &str, bytes: &[u8]) -> Vec<Vec<u8>> {
    if name.ends_with(".jsonl") {
        bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        vec![bytes.to_vec()]
    }
}

#[test]
fn every_fixture_record_parses_and_the_non_event_does_not() {
    let mut events = 0;
    for (name, bytes) in fixtures("cloudtrail") {
        for doc in documents(&name, &bytes) {
            parse_document(&doc, |i, e| {
                assert!(e.is_ok(), "{name} record {i:?}: {:?}", e.err());
                events += 1;
            });
        }
    }
    assert_eq!(events, 359);
    for (name, bytes) in fixtures("cloudtrail-invalid") {
        for doc in documents(&name, &bytes) {
            let mut errors = 0;
            parse_document(&doc, |_, e| errors += usize::from(e.is_err()));
            assert_eq!(errors, 1, "{name}: an EventBridge pattern is not an event");
        }
    }
}

type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

// (eventID, eventName, caller kind, principal a Deny would target, actions, resources sorted).
// Notes on rows that may surprise:
// - AssumeRole appears twice with one eventID: the calling account's copy (IAMUser) and the role
//   account's copy (AWSAccount: another account's principal). `sourceIdentity` and `tags` in the
//   request add sts:SetSourceIdentity and sts:TagSession (IAM user guide, "Passing session tags",
//   "Monitor and control actions taken with assumed roles").
// - Names without a path (`userName: bob`) give `user/bob` and `user/*/bob`; Create* take the exact
//   ARN from `responseElements`.
// - Root's EnableMFADevice names `AWS ROOT USER`, which is no IAM name: no resource, never a guess.
// - PutBucketAcl's documentation example has an empty `bucketName`: no resource.
// - Failed AssumeRole calls carry no `requestParameters`: no resource.
// - S3 Batch Operations service events (JobCreated, JobStatusChanged) are not API calls: unmapped.
#[rustfmt::skip]
const WRITE_EVENTS: &[Row] = &[
    ("c4fa3db1-2303-40e4-bde0-3b7246bdbf0b", "CreateBucket", "root", "arn:aws:iam::619193117841:root", &["s3:CreateBucket"], &["arn:aws:s3:::custodian-create-bucket-v4"]),
    ("80486b96-9f31-441e-b4e2-b85a4e520a07", "CreateBucket", "assumed-role", "arn:aws:iam::101010101111:role/Sandbox_Dev", &["s3:CreateBucket"], &["arn:aws:s3:::cwe-test"]),
    ("111111-436a-45ee-b0f2-5ea9e155dd56", "TagRole", "assumed-role", "arn:aws:iam::123456789012:role/aRole", &["iam:TagRole"], &["arn:aws:iam::123456789012:role/*/abcrole", "arn:aws:iam::123456789012:role/abcrole"]),
    ("2ee753fa-c79c-4b2a-9584-7a011d6fe763", "AttachRolePolicy", "assumed-role", "arn:aws:iam::123456789012:role/role1", &["iam:AttachRolePolicy"], &["arn:aws:iam::123456789012:role/*/role1", "arn:aws:iam::123456789012:role/role1"]),
    ("cfaf5898-f822-47ce-ba52-1b01aabc18f4", "AssumeRole", "assumed-role", "arn:aws:iam::123456789012:role/roleA", &["sts:AssumeRole"], &["arn:aws:iam::123456789012:role/roleB"]), // the resource from the denial's errorMessage
    ("07dcf958-5664-4de1-9ff4-99c76de89fb3", "TagRole", "assumed-role", "arn:aws:iam::1234567890012:role/NoqSpoke", &["iam:TagRole"], &["arn:aws:iam::1234567890012:role/*/test_detect_role", "arn:aws:iam::1234567890012:role/test_detect_role"]),
    // A user of 7777… assuming a role of 1111…: another account's principal, with its full ARN.
    ("dEXAMPLE-ac7f-466c-a608-4ac8dEXAMPLE", "AssumeRole", "other-account", "arn:aws:iam::777788889999:user/JohnDoe", &["sts:AssumeRole", "sts:SetSourceIdentity"], &["arn:aws:iam::111122223333:role/EC2-dev"]),
    ("dEXAMPLE-ac7f-466c-a608-4ac8dEXAMPLE", "AssumeRole", "other-account", "arn:aws:iam::777788889999:root", &["sts:AssumeRole", "sts:SetSourceIdentity"], &["arn:aws:iam::111122223333:role/EC2-dev"]),
    ("1917948f-3042-46ec-98e2-62865EXAMPLE", "AssumeRole", "assumed-role", "arn:aws:iam::111111111111:role/JohnRole1", &["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"], &["arn:aws:iam::111111111111:role/JohnRole2"]),
    ("dEXAMPLE-265a-41e0-9352-4401bEXAMPLE", "DeleteBucket", "assumed-role", "arn:aws:iam::777788889999:role/AssumeNothing", &["s3:DeleteBucket"], &["arn:aws:s3:::my-test-bucket-cross-account"]),
    ("dEXAMPLE-265a-41e0-9352-4401bEXAMPLE", "AssumeRoleWithSAML", "saml-user", "", &["sts:AssumeRoleWithSAML"], &["arn:aws:iam::444455556666:role/SAMLTestRoleShibboleth"]),
    ("bEXAMPLE-0b30-4246-b28c-e3da3EXAMPLE", "AssumeRoleWithWebIdentity", "web-identity-user", "", &["sts:AssumeRoleWithWebIdentity"], &["arn:aws:iam::444455556666:role/FederatedWebIdentityRole"]),
    ("EXAMPLEb-7dae-48cb-895f-20e86EXAMPLE", "EnableMFADevice", "root", "arn:aws:iam::111122223333:root", &["iam:EnableMFADevice"], &[]),
    ("", "CreateUser", "iam-user", "arn:aws:iam::123456789012:user/Alice", &["iam:CreateUser"], &["arn:aws:iam::123456789012:user/Bob"]),
    ("", "AddUserToGroup", "iam-user", "arn:aws:iam::123456789012:user/Alice", &["iam:AddUserToGroup"], &["arn:aws:iam::123456789012:group/*/admin", "arn:aws:iam::123456789012:group/admin"]),
    ("f907577b-bf3d-4c53-b9ed-8a83a118a554", "JobStatusChanged", "aws-service", "", &[], &[]),
    ("7c38220f-f80b-4239-8b78-2ed867b7d3fa", "JobCreated", "aws-service", "", &[], &[]),
    ("0238c1f7-c2b0-440b-8dbd-1ed5e5833afb", "JobStatusChanged", "aws-service", "", &[], &[]),
    ("607b9532-1423-41c7-b048-ec2641693c47", "PutBucketAcl", "iam-user", "arn:aws:iam::111122223333:user/myUserName", &["s3:PutBucketAcl"], &[]),
    ("b25ff7e3-f1cf-4b7f-883d-b09168c454d5", "AssumeRole", "aws-service", "", &["sts:AssumeRole"], &["arn:aws:iam::111111111111:role/someRole"]),
    ("d769ddfd-2cda-4cfa-b33f-05d3b886921d", "AssumeRole", "iam-user", "arn:aws:iam::457448411975:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role"]),
    ("fd179e25-9f1a-406c-8d7d-62f9d4938ef6", "AssumeRole", "iam-user", "arn:aws:iam::457448411975:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role"]),
    ("46558847-8b84-43de-8c96-302aa4744763", "AssumeRole", "iam-user", "arn:aws:iam::457448411975:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role"]), // the resource from the denial's errorMessage
    ("8a8844ff-dc95-4ef5-87d2-d86cc23fedd0", "AssumeRole", "iam-user", "arn:aws:iam::457448411975:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role"]), // the resource from the denial's errorMessage
    ("099bfd30-232c-4dff-9998-3821921063ca", "AssumeRole", "iam-user", "arn:aws:iam::307578594326:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::307578594326:role/stratus-red-team-leave-org-role"]),
    ("e3441619-0bf6-4818-bf18-391fb65ba98e", "AssumeRole", "iam-user", "arn:aws:iam::307578594326:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::307578594326:role/stratus-red-team-leave-org-role"]),
    ("cf589cd4-9633-4cc6-9b5c-c74f5a735fa5", "AssumeRole", "iam-user", "arn:aws:iam::321848314756:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::321848314756:role/stratus-red-team-get-usr-data-role"]),
    ("eebae605-3664-4560-a248-17d33f9ef6ef", "AssumeRole", "iam-user", "arn:aws:iam::321848314756:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::321848314756:role/stratus-red-team-get-usr-data-role"]),
    ("4cf5dad6-648f-48eb-85a7-6181c5d79424", "AssumeRole", "iam-user", "arn:aws:iam::321848314756:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::321848314756:role/stratus-red-team-get-usr-data-role"]), // the resource from the denial's errorMessage
    ("67fa9341-bd06-4ceb-a8b8-6815522b5a1b", "AssumeRole", "iam-user", "arn:aws:iam::321848314756:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::321848314756:role/stratus-red-team-get-usr-data-role"]), // the resource from the denial's errorMessage
    ("04c882a5-7652-40d1-b44c-83535fc19268", "AssumeRole", "iam-user", "arn:aws:iam::900138736586:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::900138736586:role/stratus-red-team-ec2lui-role-idtzskbvtd"]),
    ("9a6353be-6cb8-4a0c-ab85-a46dbd3a2b71", "AssumeRole", "iam-user", "arn:aws:iam::900138736586:user/christophe", &["sts:AssumeRole"], &["arn:aws:iam::900138736586:role/stratus-red-team-ec2lui-role-idtzskbvtd"]),
    ("62e290e2-ee95-4a7c-a9f8-db4ef462b12d", "UpdateAssumeRolePolicy", "iam-user", "arn:aws:iam::751203476945:user/christophe", &["iam:UpdateAssumeRolePolicy"], &["arn:aws:iam::751203476945:role/*/stratus-red-team-backdoor-r-role", "arn:aws:iam::751203476945:role/stratus-red-team-backdoor-r-role"]),
    ("c64c4ded-ef03-4e5c-81eb-153b118d72f2", "CreateAccessKey", "iam-user", "arn:aws:iam::946986569305:user/christophe", &["iam:CreateAccessKey"], &["arn:aws:iam::946986569305:user/*/stratus-red-team-backdoor-u-user", "arn:aws:iam::946986569305:user/stratus-red-team-backdoor-u-user"]),
    ("083dc4ad-e264-46bc-a407-d0dd31b58bdc", "AttachUserPolicy", "iam-user", "arn:aws:iam::229654561268:user/christophe", &["iam:AttachUserPolicy"], &["arn:aws:iam::229654561268:user/*/malicious-iam-user", "arn:aws:iam::229654561268:user/malicious-iam-user"]),
    ("94faedcc-0fa4-46e6-9322-022e8e934f04", "CreateAccessKey", "iam-user", "arn:aws:iam::229654561268:user/christophe", &["iam:CreateAccessKey"], &["arn:aws:iam::229654561268:user/*/malicious-iam-user", "arn:aws:iam::229654561268:user/malicious-iam-user"]),
    ("3346344c-5a3e-429e-8405-420f98f75d6e", "CreateUser", "iam-user", "arn:aws:iam::229654561268:user/christophe", &["iam:CreateUser", "iam:TagUser"], &["arn:aws:iam::229654561268:user/malicious-iam-user"]),
    ("39480357-0a1d-4531-a3f2-71be4c041c25", "AttachRolePolicy", "iam-user", "arn:aws:iam::609418236337:user/christophe", &["iam:AttachRolePolicy"], &["arn:aws:iam::609418236337:role/*/stratus-red-team-malicious-iam-role", "arn:aws:iam::609418236337:role/stratus-red-team-malicious-iam-role"]),
    ("d2905ac3-9898-433f-b10d-9302abe4e208", "CreateRole", "iam-user", "arn:aws:iam::609418236337:user/christophe", &["iam:CreateRole"], &["arn:aws:iam::609418236337:role/stratus-red-team-malicious-iam-role"]),
    ("64fb98c9-cb40-4f9a-b800-6c15e82e9be6", "DeleteLoginProfile", "iam-user", "arn:aws:iam::070411556318:user/christophe", &["iam:DeleteLoginProfile"], &["arn:aws:iam::070411556318:user/*/stratus-red-team-login-profile-user", "arn:aws:iam::070411556318:user/stratus-red-team-login-profile-user"]),
    ("d3906a7d-604b-407f-acb6-fc425742821e", "CreateLoginProfile", "iam-user", "arn:aws:iam::070411556318:user/christophe", &["iam:CreateLoginProfile"], &["arn:aws:iam::070411556318:user/*/stratus-red-team-login-profile-user", "arn:aws:iam::070411556318:user/stratus-red-team-login-profile-user"]),
    ("a46a1a42-9ef1-48d4-9c61-507eb6d4019f", "UpdateLoginProfile", "iam-user", "arn:aws:iam::763751499319:user/christophe", &["iam:UpdateLoginProfile"], &["arn:aws:iam::763751499319:user/*/stratus-red-team-update-login-profile-user", "arn:aws:iam::763751499319:user/stratus-red-team-update-login-profile-user"]),
];

#[test]
fn every_iam_sts_and_s3_write_event_has_its_caller_actions_and_resources() {
    let catalog = Catalog::builtin().unwrap();
    let mut seen = 0;
    for (name, bytes) in fixtures("cloudtrail") {
        for doc in documents(&name, &bytes) {
            parse_document(&doc, |_, e| {
                let e = e.unwrap();
                if !matches!(
                    e.source(),
                    "iam.amazonaws.com" | "sts.amazonaws.com" | "s3.amazonaws.com"
                ) {
                    return;
                }
                if ["Get", "List", "Describe", "Head"]
                    .iter()
                    .any(|p| e.name().starts_with(p))
                {
                    return;
                }
                let a = analyse(&e, &catalog);
                let id = e.record.event_id.as_deref().unwrap_or("");
                let row = WRITE_EVENTS
                    .iter()
                    .find(|r| {
                        r.0 == id
                            && r.1 == e.name()
                            && r.2 == a.caller.kind.as_str()
                            && r.3 == a.caller.principal_arn.as_deref().unwrap_or("")
                    })
                    .unwrap_or_else(|| {
                        panic!(
                            "{name}: no row for {id} {} by {}",
                            e.name(),
                            a.caller.kind.as_str()
                        )
                    });
                assert_eq!(
                    a.caller.principal_arn.as_deref().unwrap_or(""),
                    row.3,
                    "{name} {id} {}: principal",
                    e.name()
                );
                let actions: Vec<&str> = a
                    .mapping
                    .actions()
                    .iter()
                    .map(|m| m.action.as_str())
                    .collect();
                assert_eq!(actions, row.4, "{name} {id} {}: actions", e.name());
                let resources = a.mapping.resource_patterns();
                assert_eq!(resources, row.5, "{name} {id} {}: resources", e.name());
                seen += 1;
            });
        }
    }
    assert_eq!(
        seen,
        WRITE_EVENTS.len(),
        "every write event has a row, and every row an event"
    );
}
