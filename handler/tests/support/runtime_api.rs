//! A stand-in for the AWS Lambda Runtime API (the HTTP interface a `provided.al2023` function
//! polls), on a loopback port, so the real `bootstrap` binary can run outside Lambda: the local AWS
//! cannot run Lambda functions (it has no container engine). It serves what the runtime client
//! calls (`GET /2018-06-01/runtime/invocation/next`, `POST …/invocation/{id}/response` and
//! `…/error`, `POST …/init/error`) by handing each request to the test, which answers it.

#![allow(dead_code, unreachable_pub)]

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// The path the runtime polls for its next invocation.
pub const NEXT: &str = "/2018-06-01/runtime/invocation/next";

pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    requests: mpsc::Receiver<Pending>,
}

/// A request from the runtime, waiting for its answer.
pub struct Pending {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    reply: oneshot::Sender<Response<Full<Bytes>>>,
}

impl Pending {
    /// Answers a `GET …/invocation/next` with an invocation.
    pub fn invoke(self, request_id: &str, payload: &serde_json::Value) {
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 300_000)
            .unwrap_or_default();
        let response = Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", request_id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:warden",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .body(Full::new(Bytes::from(payload.to_string())));
        if let Ok(r) = response {
            let _ = self.reply.send(r);
        }
    }

    /// Answers a posted result or error: `202 Accepted`.
    pub fn accept(self) {
        if let Ok(r) = Response::builder()
            .status(StatusCode::ACCEPTED)
            .body(Full::new(Bytes::from_static(b"{\"status\":\"OK\"}")))
        {
            let _ = self.reply.send(r);
        }
    }

    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl RuntimeApi {
    /// Listens on a free loopback port; every connection is served on its own task.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let (tx, requests) = mpsc::channel::<Pending>(16);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let tx = tx.clone();
                        async move {
                            let method = req.method().to_string();
                            let path = req.uri().path().to_owned();
                            let body = req.into_body().collect().await?.to_bytes().to_vec();
                            let (reply, answer) = oneshot::channel();
                            let gone = || {
                                let mut r = Response::new(Full::new(Bytes::new()));
                                *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                                r
                            };
                            if tx
                                .send(Pending {
                                    method,
                                    path,
                                    body,
                                    reply,
                                })
                                .await
                                .is_err()
                            {
                                return Ok::<_, hyper::Error>(gone());
                            }
                            Ok(answer.await.unwrap_or_else(|_| gone()))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { address, requests })
    }

    /// The runtime's next request, or `None` when none came within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Pending> {
        tokio::time::timeout(wait, self.requests.recv())
            .await
            .ok()
            .flatten()
    }

    /// The variables Lambda sets for a function's runtime, pointing it at this stand-in.
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "warden"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/warden"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/24/[$LATEST]local"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}
