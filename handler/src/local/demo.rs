//! The local demo account and the CloudTrail events AWS would emit for calls made in it, shared by
//! `warden demo` and the end-to-end tests: an `Administrators` group with its admin, a non-admin
//! `mallory` with broad IAM and S3 access, Warden's own user, two roles and two buckets, and the
//! resources `warden init` creates. The emulator does not emit CloudTrail events, so after each call
//! the record AWS would have delivered is put on the event bus (`source: aws.iam`), from where the
//! real EventBridge rule routes it to the intake FIFO queue, and the forwarder to its lane of the
//! work queue.

use crate::aws::{Clients, RateLimits, RetryPolicy};
use crate::enforce::config::Config;
use crate::local::emulator::LocalAws;
use crate::stores::init::{init, InitOutput};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// moto's default account.
pub const ACCOUNT: &str = "123456789012";

/// A user of the demo account with its own signed clients.
pub struct Actor {
    pub name: String,
    pub arn: String,
    pub clients: Clients,
    /// The actor's access key, for a process that signs as it (the `bootstrap` binary under test).
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Set for temporary credentials (Warden's function role, assumed).
    pub session_token: Option<String>,
}

/// How Warden's own resources are made in the demo account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deploy {
    /// `warden init`, with Warden signing as an IAM user that may do anything.
    Init,
    /// The real stack (`cloudformation/warden.yaml`) in the emulator's CloudFormation, with Warden
    /// signing as the stack's function role (assumed), so every call it makes is checked against
    /// the role's policies.
    Stack,
}

/// The demo stack's name (its resources are `warden-…`, like `warden init`'s).
pub const STACK: &str = "warden";

/// Where the demo puts the function's code. Functions cannot run on the emulator (no container
/// engine), so the object is an empty zip archive; the worker polls the queues instead
/// (`LambdaConsumesQueues=false`).
const CODE_KEY: &str = "warden/bootstrap.zip";
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// The demo account, set up with policy enforcement on.
pub struct Scenario {
    pub admin: Actor,
    pub mallory: Actor,
    /// Warden's own user: the worker signs as it.
    pub warden: Actor,
    pub init: InitOutput,
    /// An SQS queue subscribed to the alert topic (raw delivery), to read alerts from.
    pub inbox_url: String,
}

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const DEVELOPER: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","s3:*","sts:*"],"Resource":"*"}]}"#;
const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn clients(conf: &aws_config::SdkConfig) -> Clients {
    Clients::from_conf(conf, &RateLimits::default(), RetryPolicy::default())
}

async fn user(
    setup: &Clients,
    aws: &LocalAws,
    name: &str,
    policy: &str,
    group: Option<&str>,
) -> Result<Actor> {
    let out = setup.iam.create_user().user_name(name).send().await?;
    let arn = out.user().map(|u| u.arn().to_owned()).unwrap_or_default();
    setup
        .iam
        .put_user_policy()
        .user_name(name)
        .policy_name(format!("{name}-access"))
        .policy_document(policy)
        .send()
        .await?;
    if let Some(g) = group {
        setup
            .iam
            .add_user_to_group()
            .group_name(g)
            .user_name(name)
            .send()
            .await?;
    }
    let key = setup.iam.create_access_key().user_name(name).send().await?;
    let k = key
        .access_key()
        .context("CreateAccessKey returned no key")?;
    let conf = aws
        .sdk_config_as(k.access_key_id(), k.secret_access_key())
        .await;
    Ok(Actor {
        name: name.to_owned(),
        arn,
        clients: clients(&conf),
        access_key_id: k.access_key_id().to_owned(),
        secret_access_key: k.secret_access_key().to_owned(),
        session_token: None,
    })
}

/// Deploys the stack and returns its outputs as `warden init` prints them, and the function role.
async fn deploy_stack(setup: &Clients) -> Result<(InitOutput, String)> {
    let code_bucket = format!("warden-code-{ACCOUNT}");
    setup.s3.create_bucket().bucket(&code_bucket).send().await?;
    setup
        .s3
        .put_object()
        .bucket(&code_bucket)
        .key(CODE_KEY)
        .body(EMPTY_ZIP.to_vec().into())
        .send()
        .await?;
    let settled = crate::deploy::stack::deploy(
        setup,
        STACK,
        crate::deploy::stack::TEMPLATE,
        &[
            ("CodeBucket", code_bucket.as_str()),
            ("CodeKey", CODE_KEY),
            ("Mode", "enforce"),
            ("LambdaConsumesQueues", "false"),
        ],
        std::time::Duration::from_secs(120),
    )
    .await
    .context("deploying cloudformation/warden.yaml")?;
    let mut vars = Vec::new();
    for (key, value) in &settled.outputs {
        let Some(name) = crate::deploy::stack::variable_of(key) else {
            continue;
        };
        let known = crate::enforce::config::VARIABLES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, _)| *n)
            .with_context(|| format!("stack output {key}: {name} is not a Warden variable"))?;
        vars.push((known, value.clone()));
    }
    let role = settled
        .outputs
        .get("FunctionRoleArn")
        .context("the stack has no FunctionRoleArn output")?
        .clone();
    Ok((
        InitOutput {
            vars,
            admitted: Vec::new(),
        },
        role,
    ))
}

/// The one place the local deploy differs from AWS, and why. The emulator checks a request's
/// resource ARN only for IAM calls that name a role, for SQS and for S3; every other call (IAM calls
/// on users, groups and policies, DynamoDB, SNS, CloudTrail, KMS) it evaluates against resource
/// `*`, which no statement scoped to an ARN matches. So the stack's role, exactly as the template
/// makes it, could not make those calls here at all. This attaches one more policy to it: the
/// template's own Allow actions of those kinds, on `*`; and, where the template grants the public
/// access block and ownership-controls writes, the bucket actions the emulator asks for in their
/// place (`s3:CreateBucket`, `s3:DeleteBucket`), and for the account's public access block its
/// operation names (`s3:GetPublicAccessBlock`, …). The template's statements stay as they are
/// and still decide every role-naming IAM call, every SQS and S3 call, and (its Denies) every call
/// the emulator evaluates; the resource scoping of the rest is proven by Warden's evaluator over the
/// template (`handler/tests/template.rs`).
async fn allow_unscoped_calls_on_the_emulator(setup: &Clients, role: &str) -> Result<()> {
    use policy_rules::policy::{Effect, PolicyDocument, Scope};
    let attached = setup
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await?;
    let mut actions = std::collections::BTreeSet::new();
    let mut bucket_subresources = false;
    let mut account_block = Vec::new();
    for p in attached.attached_policies() {
        let arn = p
            .policy_arn()
            .context("an attached policy without an ARN")?;
        let policy = setup.iam.get_policy().policy_arn(arn).send().await?;
        let version = policy
            .policy()
            .and_then(|p| p.default_version_id())
            .context("a policy without a default version")?;
        let doc = setup
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await?;
        let text = doc
            .policy_version()
            .and_then(|v| v.document())
            .context("a policy version without a document")?;
        let doc = PolicyDocument::parse(text).context("the stack's policy does not parse")?;
        for st in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
            let Scope::Only(list) = &st.action else {
                continue;
            };
            for a in list {
                bucket_subresources |= matches!(
                    a.as_str(),
                    "s3:PutBucketPublicAccessBlock" | "s3:PutBucketOwnershipControls"
                );
                match a.as_str() {
                    "s3:GetAccountPublicAccessBlock" => {
                        account_block.push("s3:GetPublicAccessBlock")
                    }
                    "s3:PutAccountPublicAccessBlock" => {
                        account_block
                            .extend(["s3:PutPublicAccessBlock", "s3:DeletePublicAccessBlock"]);
                    }
                    _ => {}
                }
                let (service, name) = a.split_once(':').unwrap_or((a, ""));
                let by_arn =
                    matches!(service, "sqs" | "s3") || (service == "iam" && name.contains("Role"));
                if !by_arn {
                    actions.insert(a.clone());
                }
            }
        }
    }
    // The emulator asks for the operation's name where AWS asks for the actions it implies
    // (`TransactWriteItems` is `PutItem`, `UpdateItem`, `ConditionCheckItem` on AWS).
    actions.insert("dynamodb:TransactWriteItems".to_owned());
    let mut statements = vec![json!({
        "Sid": "EmulatorEvaluatesTheseAgainstStar",
        "Effect": "Allow",
        "Action": actions,
        "Resource": "*",
    })];
    // The emulator does not know the `publicAccessBlock` and `ownershipControls` subresources
    // when it names a bucket request's action: it asks for the method's default, `s3:CreateBucket`
    // for a put and `s3:DeleteBucket` for a delete, where AWS asks for
    // `s3:PutBucketPublicAccessBlock` and `s3:PutBucketOwnershipControls` (which the template
    // grants, on the account's buckets).
    if bucket_subresources {
        statements.push(json!({
            "Sid": "EmulatorNamesBucketSubresourcesByTheirMethod",
            "Effect": "Allow",
            "Action": ["s3:CreateBucket", "s3:DeleteBucket"],
            "Resource": "arn:aws:s3:::*",
        }));
    }
    // S3 Control's account block: the emulator asks for the operation's name
    // (`s3:GetPublicAccessBlock`, `s3:PutPublicAccessBlock`, `s3:DeletePublicAccessBlock`) on `*`,
    // where AWS asks for `s3:GetAccountPublicAccessBlock` and `s3:PutAccountPublicAccessBlock`
    // (which the template grants, on `*`).
    if !account_block.is_empty() {
        statements.push(json!({
            "Sid": "EmulatorNamesAccountBlockCallsByTheirOperation",
            "Effect": "Allow",
            "Action": account_block,
            "Resource": "*",
        }));
    }
    let document = json!({
        "Version": "2012-10-17",
        "Statement": statements,
    });
    let created = setup
        .iam
        .create_policy()
        .policy_name("warden-emulator-unscoped")
        .path("/warden-emulator/")
        .policy_document(document.to_string())
        .send()
        .await?;
    let arn = created
        .policy()
        .and_then(|p| p.arn())
        .context("CreatePolicy returned no ARN")?;
    setup
        .iam
        .attach_role_policy()
        .role_name(role)
        .policy_arn(arn)
        .send()
        .await?;
    Ok(())
}

/// Warden's function role, assumed (as the Lambda service would), with its own signed clients.
async fn assume_function_role(setup: &Clients, aws: &LocalAws, role_arn: &str) -> Result<Actor> {
    let out = setup
        .sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("warden-function")
        .send()
        .await?;
    let c = out
        .credentials()
        .context("AssumeRole returned no credentials")?;
    let conf = aws
        .sdk_config_session(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token()),
        )
        .await;
    Ok(Actor {
        name: "warden-function".to_owned(),
        arn: role_arn.to_owned(),
        clients: clients(&conf),
        access_key_id: c.access_key_id().to_owned(),
        secret_access_key: c.secret_access_key().to_owned(),
        session_token: Some(c.session_token().to_owned()),
    })
}

impl Scenario {
    /// Creates the account on a fresh emulator, deploys Warden, and turns enforcement on.
    pub async fn setup(aws: &LocalAws) -> Result<Self> {
        Self::setup_with(aws, Deploy::Stack).await
    }

    /// The same, with Warden's resources made as `how` says.
    pub async fn setup_with(aws: &LocalAws, how: Deploy) -> Result<Self> {
        aws.enforce_policies(false)?;
        let setup = clients(&aws.sdk_config().await);
        let (init, function_role) = match how {
            Deploy::Init => (
                init(&setup, "warden", false).await.context("warden init")?,
                None,
            ),
            Deploy::Stack => {
                let (out, role) = deploy_stack(&setup).await?;
                let name = role.rsplit('/').next().unwrap_or_default();
                allow_unscoped_calls_on_the_emulator(&setup, name).await?;
                (out, Some(role))
            }
        };
        setup
            .iam
            .create_group()
            .group_name("Administrators")
            .send()
            .await?;
        let admin = user(&setup, aws, "admin", ALLOW_ALL, Some("Administrators")).await?;
        let mallory = user(&setup, aws, "mallory", DEVELOPER, None).await?;
        let warden = match &function_role {
            Some(role) => assume_function_role(&setup, aws, role).await?,
            None => user(&setup, aws, "warden-worker", ALLOW_ALL, None).await?,
        };
        for role in ["app-deploy", "billing-reports"] {
            setup
                .iam
                .create_role()
                .role_name(role)
                .assume_role_policy_document(TRUST_EC2)
                .send()
                .await?;
        }
        for bucket in ["payments-data", "public-site"] {
            setup.s3.create_bucket().bucket(bucket).send().await?;
        }
        let topic = init
            .get("WARDEN_ALERT_TOPIC_ARN")
            .context("init printed no topic")?
            .to_owned();
        let inbox = setup
            .sqs
            .create_queue()
            .queue_name("alert-inbox")
            .send()
            .await?;
        let inbox_url = inbox.queue_url().unwrap_or_default().to_owned();
        let inbox_arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:alert-inbox");
        setup
            .sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&inbox_arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await?;
        aws.enforce_policies(true)?;
        let scenario = Self {
            admin,
            mallory,
            warden,
            init,
            inbox_url,
        };
        scenario.sweep().await.context("Warden's first sweep")?;
        Ok(scenario)
    }

    /// A sweep's read of the account as Warden (its function role): the account's authorization
    /// details, recorded in the account model in the state table. The live path judges each later
    /// event by the model's state before it.
    pub async fn sweep(&self) -> Result<crate::sweep::model::Refreshed> {
        let config = self.config(&[])?;
        let read = crate::connectors::authorization_details::read(&self.warden.clients).await?;
        let model = crate::stores::dynamo::DynamoModel::new(
            self.warden.clients.clone(),
            config.state_table.clone(),
            ACCOUNT,
        );
        let now = (crate::enforce::flow::system_clock())();
        let refreshed = crate::sweep::model::refresh(&model, &read.snapshot, now).await?;
        // CloudTrail times are whole seconds, and the model vouches for a read only for events
        // after it: the scenario's next event is at least a second later.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        Ok(refreshed)
    }

    /// Warden's configuration for this account, as `warden init` printed it, plus `extra`.
    pub fn config(&self, extra: &[(&str, &str)]) -> Result<Config> {
        let mut vars: BTreeMap<String, String> = self
            .init
            .vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        Ok(Config::from_vars(&vars)?)
    }

    /// Puts the CloudTrail record AWS would deliver for a call by `actor` on the event bus.
    pub async fn emit(&self, detail: &Value) -> Result<()> {
        // EventBridge's source for a CloudTrail event is `aws.` and the service (`ec2.amazonaws.com`
        // is `aws.ec2`).
        let source = match detail["eventSource"]
            .as_str()
            .and_then(|s| s.strip_suffix(".amazonaws.com"))
        {
            Some(service) => format!("aws.{service}"),
            None => "aws.iam".to_owned(),
        };
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(source)
            .detail_type("AWS API Call via CloudTrail")
            .detail(detail.to_string())
            .build();
        // AWS delivers CloudTrail's events; here the admin stands in for it (Warden may not put
        // events on the bus).
        let out = self
            .admin
            .clients
            .events
            .put_events()
            .entries(entry)
            .send()
            .await?;
        anyhow::ensure!(
            out.failed_entry_count() == 0,
            "PutEvents failed: {:?}",
            out.entries()
        );
        Ok(())
    }

    /// The names of a role's inline policies, read as the admin.
    pub async fn role_policies(&self, role: &str) -> Result<Vec<String>> {
        let out = self
            .admin
            .clients
            .iam
            .list_role_policies()
            .role_name(role)
            .send()
            .await?;
        Ok(out.policy_names().to_vec())
    }

    /// The names of a user's inline policies, read as the admin.
    pub async fn user_policies(&self, user: &str) -> Result<Vec<String>> {
        let out = self
            .admin
            .clients
            .iam
            .list_user_policies()
            .user_name(user)
            .send()
            .await?;
        Ok(out.policy_names().to_vec())
    }

    /// Forwards what is on the intake queue to the work queue in lanes, as the intake's event
    /// source mapping and the forwarder would (as the admin, so Warden's request count does not
    /// see it); how many messages were forwarded.
    pub async fn forward(&self) -> Result<usize> {
        let var = |name: &str| {
            self.init
                .get(name)
                .with_context(|| format!("`warden init` gave no {name}"))
        };
        let (intake, work) = (var("WARDEN_INTAKE_QUEUE_URL")?, var("WARDEN_QUEUE_URL")?);
        let dlq = crate::enforce::queue::SqsDeadLetters {
            clients: self.admin.clients.clone(),
            url: var("WARDEN_DLQ_URL")?.to_owned(),
        };
        let clients = &self.admin.clients;
        let mut forwarded = 0;
        loop {
            let messages = crate::enforce::queue::receive(clients, intake, 1).await?;
            if messages.is_empty() {
                return Ok(forwarded);
            }
            let outcome =
                crate::enforce::queue::forward_batch(clients, work, &dlq, &messages).await;
            crate::enforce::queue::settle(clients, intake, &messages, &outcome, true).await?;
            anyhow::ensure!(
                outcome.failed.is_empty(),
                "forwarding failed for {:?}",
                outcome.failed
            );
            forwarded += outcome.succeeded.len();
        }
    }

    /// Takes one message off Warden's work queue, as Lambda's event source mapping would (read as
    /// the admin, so Warden's request count does not see it), after forwarding the intake:
    /// `(message id, body, receipt handle)`.
    pub async fn take_message(&self) -> Result<(String, String, String)> {
        self.forward().await?;
        let queue = self
            .init
            .get("WARDEN_QUEUE_URL")
            .context("`warden init` gave no WARDEN_QUEUE_URL")?;
        for _ in 0..10 {
            let r = self
                .admin
                .clients
                .sqs
                .receive_message()
                .queue_url(queue)
                .wait_time_seconds(2)
                .send()
                .await?;
            if let Some(m) = r.messages().first() {
                return Ok((
                    m.message_id().unwrap_or_default().to_owned(),
                    m.body().unwrap_or_default().to_owned(),
                    m.receipt_handle().unwrap_or_default().to_owned(),
                ));
            }
        }
        anyhow::bail!("no message reached Warden's work queue in 20 seconds")
    }

    /// The environment Lambda would give Warden's function here: `warden init`'s configuration,
    /// the local endpoint and Warden's own credentials (the Runtime API variables are the caller's).
    pub fn function_env(&self, aws: &LocalAws) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .init
            .vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        for (k, v) in [
            ("AWS_ENDPOINT_URL", aws.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", self.warden.access_key_id.as_str()),
            (
                "AWS_SECRET_ACCESS_KEY",
                self.warden.secret_access_key.as_str(),
            ),
        ] {
            env.push((k.to_owned(), v.to_owned()));
        }
        if let Some(token) = &self.warden.session_token {
            env.push(("AWS_SESSION_TOKEN".to_owned(), token.clone()));
        }
        env
    }

    /// The alerts that reached the inbox so far (each as its raw message body).
    pub async fn alerts(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        loop {
            let r = self
                .admin
                .clients
                .sqs
                .receive_message()
                .queue_url(&self.inbox_url)
                .max_number_of_messages(10)
                .send()
                .await?;
            if r.messages().is_empty() {
                return Ok(out);
            }
            for m in r.messages() {
                out.push(m.body().unwrap_or_default().to_owned());
                if let Some(h) = m.receipt_handle() {
                    self.admin
                        .clients
                        .sqs
                        .delete_message()
                        .queue_url(&self.inbox_url)
                        .receipt_handle(h)
                        .send()
                        .await?;
                }
            }
        }
    }
}

/// The CloudTrail record (EventBridge `detail`) of a successful IAM or S3 call by an IAM user.
pub fn user_call(
    user: &str,
    source: &str,
    event_name: &str,
    request_parameters: Value,
    event_id: &str,
) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": format!("AIDA{}", user.to_uppercase()),
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/{user}"),
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLE",
            "userName": user,
        },
        "eventTime": crate::enforce::flow::iso((crate::enforce::flow::system_clock())()),
        "eventSource": source,
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request_parameters,
        "responseElements": null,
        "requestID": format!("req-{event_id}"),
        "eventID": event_id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    })
}

/// The same call made as the root user.
pub fn root_call(
    source: &str,
    event_name: &str,
    request_parameters: Value,
    event_id: &str,
) -> Value {
    let mut v = user_call("root", source, event_name, request_parameters, event_id);
    v.as_object_mut().map(|o| {
        o.insert(
            "userIdentity".to_owned(),
            json!({
                "type": "Root",
                "principalId": ACCOUNT,
                "arn": format!("arn:aws:iam::{ACCOUNT}:root"),
                "accountId": ACCOUNT,
                "accessKeyId": "ASIAEXAMPLE",
            }),
        )
    });
    v
}

/// The same call made through an IAM Identity Center permission set's role.
pub fn sso_call(
    source: &str,
    event_name: &str,
    request_parameters: Value,
    event_id: &str,
) -> Value {
    let role = "AWSReservedSSO_PowerUser_0123456789abcdef";
    let mut v = user_call("sso", source, event_name, request_parameters, event_id);
    v.as_object_mut().map(|o| {
        o.insert("userIdentity".to_owned(), json!({
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:jane@example.com",
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/jane@example.com"),
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{role}"),
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-11-24T09:00:00Z", "mfaAuthenticated": "false"},
        },
    }))
    });
    v
}

/// The CloudTrail record of mallory's `PutRolePolicy` of [`ESCALATE`] as `escalate` on `role`.
pub fn escalation_event(event_id: &str, role: &str) -> Value {
    user_call(
        "mallory",
        "iam.amazonaws.com",
        "PutRolePolicy",
        json!({"roleName": role, "policyName": "escalate", "policyDocument": ESCALATE}),
        event_id,
    )
}

/// The inline policy document mallory writes to escalate.
pub const ESCALATE: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// Builds the flow for the demo account, signing as Warden's own user.
pub fn flow(
    scenario: &Scenario,
    extra: &[(&str, &str)],
) -> Result<(crate::enforce::flow::Flow, Config)> {
    let config = scenario.config(extra)?;
    let flow = crate::assembly::build_flow(&config, &scenario.warden.clients, ACCOUNT.to_owned())?;
    Ok((flow, config))
}

/// Runs the worker once over what is on the queue, as `warden worker --once` does, with the
/// emulator's policy enforcement on (Warden's calls are checked like everyone's).
pub async fn work_once(
    _aws: &LocalAws,
    scenario: &Scenario,
    flow: &crate::enforce::flow::Flow,
    config: &Config,
) -> Result<crate::enforce::queue::WorkerStats> {
    work_once_as_is(scenario, flow, config).await
}

async fn work_once_as_is(
    scenario: &Scenario,
    flow: &crate::enforce::flow::Flow,
    config: &Config,
) -> Result<crate::enforce::queue::WorkerStats> {
    let clients = &scenario.warden.clients;
    let dlq = crate::enforce::queue::SqsDeadLetters {
        clients: clients.clone(),
        url: Config::required(&config.dlq_url, "WARDEN_DLQ_URL")?.to_owned(),
    };
    let queues = crate::enforce::queue::Queues {
        work: Config::required(&config.queue_url, "WARDEN_QUEUE_URL")?,
        intake: config.intake_queue_url.as_deref(),
    };
    crate::enforce::queue::run_worker(flow, clients, queues, &dlq, true, 0).await
}

/// Mallory's `PutRolePolicy` on a role, as Mallory; `Ok(true)` when allowed, `Ok(false)` on HTTP 403.
pub async fn mallory_puts_role_policy(
    scenario: &Scenario,
    role: &str,
    policy_name: &str,
) -> Result<bool> {
    let c = &scenario.mallory.clients;
    match c
        .iam
        .put_role_policy()
        .role_name(role)
        .policy_name(policy_name)
        .policy_document(ESCALATE)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => {
            let err = crate::aws::classify("iam", "PutRolePolicy", &e);
            if err.is_access_denied() {
                Ok(false)
            } else {
                Err(err.into())
            }
        }
    }
}

/// Mallory writes a bucket policy on `payments-data` granting herself reads of it, as Mallory, and
/// returns the CloudTrail record of the call (`event_id`) for the tests to deliver.
pub async fn mallory_puts_bucket_policy(scenario: &Scenario, event_id: &str) -> Result<Value> {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Mine","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/mallory"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::payments-data/*"}]}"#;
    scenario
        .mallory
        .clients
        .s3
        .put_bucket_policy()
        .bucket("payments-data")
        .policy(policy)
        .send()
        .await
        .map_err(|e| crate::aws::classify("s3", "PutBucketPolicy", &e))?;
    Ok(user_call(
        "mallory",
        "s3.amazonaws.com",
        "PutBucketPolicy",
        json!({"bucketName": "payments-data", "bucketPolicy": serde_json::from_str::<Value>(policy)?, "policy": [""]}),
        event_id,
    ))
}

/// `warden demo`: the whole flow on the local AWS, told step by step.
pub async fn run(out: &mut dyn std::io::Write) -> Result<()> {
    let say = |out: &mut dyn std::io::Write, s: &str| writeln!(out, "{s}");
    say(out, "== Warden demo on the local AWS (moto) ==")?;
    let aws = LocalAws::start_with(&mut |m| {
        let _ = writeln!(out, "   {m} ...");
    })?;
    say(
        out,
        &format!(
            "1. Local AWS running at {}; the stack cloudformation/warden.yaml deployed (CloudFormation), its outputs (`warden config --stack warden`):",
            aws.endpoint
        ),
    )?;
    let scenario = Scenario::setup(&aws).await?;
    for (k, v) in &scenario.init.vars {
        say(out, &format!("     export {k}={v}"))?;
    }
    say(
        out,
        "   Account: group Administrators (user `admin`), non-admin `mallory` with iam:* and s3:*,",
    )?;
    say(
        out,
        "   roles `app-deploy` and `billing-reports`. IAM policy enforcement is on, and Warden signs as the\n   stack's function role (warden-warden-function), so every call it makes is checked against it.",
    )?;

    say(
        out,
        "\n2. Mallory (not an admin) gives role `app-deploy` an admin inline policy:",
    )?;
    let did = mallory_puts_role_policy(&scenario, "app-deploy", "escalate").await?;
    say(
        out,
        &format!(
            "     iam:PutRolePolicy app-deploy/escalate -> {}",
            if did { "allowed" } else { "denied" }
        ),
    )?;
    let event_id = "demo-0001-mallory-putrolepolicy";
    scenario
        .emit(&escalation_event(event_id, "app-deploy"))
        .await?;
    say(
        out,
        "   The emulator records no CloudTrail events: the demo makes the record AWS would deliver",
    )?;
    say(
        out,
        "   for that call and puts it on EventBridge -> rule -> intake queue -> mallory's lane.",
    )?;

    say(
        out,
        "\n3. Warden's worker takes it from the queue (`warden worker --once`):",
    )?;
    let (flow, config) = flow(&scenario, &[])?;
    let stats = work_once(&aws, &scenario, &flow, &config).await?;
    say(
        out,
        &format!(
            "     messages {}, changes {}, alerts {}",
            stats.messages, stats.changes, stats.alerts
        ),
    )?;

    say(out, "\n4. The Deny holds, and it is narrow:")?;
    let again = mallory_puts_role_policy(&scenario, "app-deploy", "escalate-again").await?;
    say(
        out,
        &format!(
            "     mallory iam:PutRolePolicy on app-deploy      -> {}",
            if again {
                "ALLOWED (unexpected)"
            } else {
                "denied (HTTP 403)"
            }
        ),
    )?;
    let other = mallory_puts_role_policy(&scenario, "billing-reports", "reports").await?;
    say(
        out,
        &format!(
            "     mallory iam:PutRolePolicy on billing-reports -> {}",
            if other {
                "allowed"
            } else {
                "DENIED (unexpected)"
            }
        ),
    )?;
    let users = scenario
        .mallory
        .clients
        .iam
        .list_users()
        .send()
        .await
        .is_ok();
    say(
        out,
        &format!(
            "     mallory iam:ListUsers                        -> {}",
            if users {
                "allowed"
            } else {
                "DENIED (unexpected)"
            }
        ),
    )?;
    let deny = scenario
        .warden
        .clients
        .iam
        .get_user_policy()
        .user_name("mallory")
        .policy_name("WardenDeny")
        .send()
        .await?;
    let doc = policy_rules::policy::PolicyDocument::parse(deny.policy_document())?;
    say(
        out,
        &format!("     WardenDeny on mallory: {}", doc.to_json()),
    )?;

    say(
        out,
        "\n5. The undo: mallory's `escalate` policy is gone from app-deploy:",
    )?;
    let left = scenario
        .warden
        .clients
        .iam
        .list_role_policies()
        .role_name("app-deploy")
        .send()
        .await?;
    say(
        out,
        &format!(
            "     inline policies of app-deploy: {:?}",
            left.policy_names()
        ),
    )?;

    say(out, "\n6. One alert (SNS topic -> subscribed queue):")?;
    for a in scenario.alerts().await? {
        for line in a.lines().take(30) {
            say(out, &format!("     | {line}"))?;
        }
    }

    say(
        out,
        "\n7. The evidence chain verifies (`warden evidence verify`):",
    )?;
    let records = flow.evidence.list().await?;
    let head = flow.evidence.head().await?;
    for r in &records {
        say(
            out,
            &format!(
                "     {:>2} {:<8} {} {}",
                r.seq,
                serde_json::to_value(r.kind)?.as_str().unwrap_or(""),
                r.id,
                r.target.as_deref().unwrap_or("")
            ),
        )?;
    }
    crate::stores::verify::verify_chain(
        &records,
        head.as_ref().map(|(s, h)| (*s, h.as_str())),
        "     evidence",
        out,
    )?;

    say(out, "\n8. Roll back the Deny (`warden rollback ID`): mallory may write app-deploy's policies again:")?;
    let deny_change = records
        .iter()
        .find(|r| {
            r.kind == policy_rules::evidence::RecordKind::Change
                && r.body.get("role").and_then(Value::as_str) == Some("deny")
        })
        .context("no change record of the Deny")?;
    let (rec, _) = flow.rollback(&deny_change.id, false).await?;
    say(
        out,
        &format!(
            "     rolled back {} (recorded as {}, seq {})",
            deny_change.id, rec.id, rec.seq
        ),
    )?;
    let after = mallory_puts_role_policy(&scenario, "app-deploy", "after-rollback").await?;
    say(
        out,
        &format!(
            "     mallory iam:PutRolePolicy on app-deploy      -> {}",
            if after { "allowed" } else { "denied" }
        ),
    )?;
    let records = flow.evidence.list().await?;
    let head = flow.evidence.head().await?;
    crate::stores::verify::verify_chain(
        &records,
        head.as_ref().map(|(s, h)| (*s, h.as_str())),
        "     evidence",
        out,
    )?;
    say(out, "\nDone. The local AWS stops with this process.")?;
    Ok(())
}
