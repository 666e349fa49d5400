//! A real HTTP SMS gateway for tests: records every `POST` body, and can be
//! told to fail the first requests with 500.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};

#[derive(Clone, Default)]
struct Gateway {
    received: Arc<Mutex<Vec<serde_json::Value>>>,
    failures_left: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

pub struct SmsGateway {
    pub url: String,
    gateway: Gateway,
    server: actix_web::dev::ServerHandle,
}

async fn receive(gateway: web::Data<Gateway>, body: web::Json<serde_json::Value>) -> HttpResponse {
    gateway.requests.fetch_add(1, Ordering::SeqCst);
    let fail = gateway.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if fail {
        return HttpResponse::InternalServerError().body("gateway down");
    }
    gateway.received.lock().unwrap().push(body.into_inner());
    HttpResponse::Ok().json(serde_json::json!({ "status": "queued" }))
}

impl SmsGateway {
    /// A gateway that fails its first `failures` requests.
    pub fn start(failures: usize) -> Self {
        let gateway = Gateway::default();
        gateway.failures_left.store(failures, Ordering::SeqCst);
        let data = web::Data::new(gateway.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || App::new().app_data(data.clone()).route("/sms", web::post().to(receive)))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self { url: format!("http://127.0.0.1:{port}/sms"), gateway, server: handle }
    }

    /// Every request received, failed or not.
    pub fn request_count(&self) -> usize {
        self.gateway.requests.load(Ordering::SeqCst)
    }

    pub fn messages(&self) -> Vec<serde_json::Value> {
        self.gateway.received.lock().unwrap().clone()
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}
