//! What a client may send, and how slowly: the limits that keep one client
//! from holding memory or a connection that others need.
//!
//! - The request's head: actix reads at most 128 KiB of it and 96 headers,
//!   and gives up on a head that has not arrived in [`HEAD_TIME`] (408). Within
//!   that, an address (path and query) over [`URI_LIMIT`], a header over
//!   [`HEADER_LIMIT`] or all of them over [`HEADERS_LIMIT`] are refused (431).
//! - The body: it declares its length (411 otherwise: actix reads what is
//!   left of a chunked body to the end, however slowly it comes, so a
//!   chunked body could hold a connection for ever; browsers, HTTP client
//!   libraries and reverse proxies send a `Content-Length` for bodies this
//!   small); at most [`BODY_LIMIT`] (413, before a byte is read); and all
//!   of it within [`BODY_TIME`] of the head (408), so a client that
//!   trickles its body is let go.
//!
//! A refused request changes nothing: a head is refused before routing, and
//! a body is cut off while the handler's extractor reads it, which fails
//! the extraction (a handler that takes an optional body, as userinfo's
//! POST does, reads on without it and changes nothing either); the
//! handler's answer is then replaced by the refusal, as a page, an API
//! error or an OAuth error according to the path.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use futures_core::Stream;
use tokio::time::{Instant, Sleep, sleep_until};

use super::api::ApiError;
use super::browser::error_page;
use super::page::PageTexts;
use crate::domain::refusal::Refusal;
use crate::error::Error;

/// The largest body Portti reads: every form and every JSON body.
pub const BODY_LIMIT: usize = 16 * 1024;

/// The longest path and query.
pub const URI_LIMIT: usize = 8 * 1024;

/// The longest header (name and value).
pub const HEADER_LIMIT: usize = 8 * 1024;

/// All headers together.
pub const HEADERS_LIMIT: usize = 32 * 1024;

/// How long a client has to send the head of a request, and how long an idle
/// kept-alive connection stays open.
pub const HEAD_TIME: Duration = Duration::from_secs(5);

/// How long a client has to send a body once its head has arrived.
pub const BODY_TIME: Duration = Duration::from_secs(10);

/// Whether, and why, a body was cut off while it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    No,
    TooLarge,
    TooSlow,
}

/// Middleware: refuses a request whose head is over the limits, and reads
/// its body through [`Limited`].
pub async fn enforce(
    mut request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if head_too_large(request.request()) {
        return Ok(refuse(request, Refusal::HeadTooLarge));
    }
    match declared_body(request.request()) {
        DeclaredBody::Chunked => return Ok(refuse(request, Refusal::LengthRequired)),
        DeclaredBody::Length(length) if length > BODY_LIMIT => return Ok(refuse(request, too_large())),
        DeclaredBody::Length(length) if length > 0 => {}
        _ => return next.call(request).await.map(ServiceResponse::map_into_left_body),
    }
    let cut = Rc::new(Cell::new(Cut::No));
    let (_, payload) = request.parts_mut();
    let inner = std::mem::replace(payload, Payload::None);
    request.set_payload(Payload::Stream { payload: Box::pin(Limited::new(inner, cut.clone())) });
    let response = next.call(request).await?;
    let refusal = match cut.get() {
        Cut::No => return Ok(response.map_into_left_body()),
        Cut::TooLarge => too_large(),
        Cut::TooSlow => Refusal::BodyTooSlow,
    };
    let (request, _) = response.into_parts();
    let refused = answer(&request, refusal);
    Ok(ServiceResponse::new(request, refused).map_into_right_body())
}

fn too_large() -> Refusal {
    Refusal::BodyTooLarge { max: BODY_LIMIT / 1024 }
}

/// Whether the path and query or the headers are longer than Portti reads.
fn head_too_large(request: &HttpRequest) -> bool {
    let uri = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > URI_LIMIT {
        return true;
    }
    let mut total = 0;
    for (name, value) in request.headers() {
        let size = name.as_str().len() + value.len();
        if size > HEADER_LIMIT {
            return true;
        }
        total += size;
    }
    total > HEADERS_LIMIT
}

/// What the head says of the body.
#[derive(Debug, PartialEq, Eq)]
enum DeclaredBody {
    None,
    Length(usize),
    Chunked,
}

fn declared_body(request: &HttpRequest) -> DeclaredBody {
    let headers = request.headers();
    if headers.contains_key(TRANSFER_ENCODING) {
        return DeclaredBody::Chunked;
    }
    // actix has already refused a Content-Length that is not a number.
    let length = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    length.map_or(DeclaredBody::None, DeclaredBody::Length)
}

/// Refuses a request before its handler, leaving its body unread. The
/// body is kept with the answer's until that has been sent: actix then sees
/// a body left unread and closes the connection, rather than reading the
/// rest of a chunked body for as long as its client cares to send it.
fn refuse<B>(request: ServiceRequest, refusal: Refusal) -> ServiceResponse<EitherBody<B>> {
    let (request, payload) = request.into_parts();
    let response =
        answer(&request, refusal).map_body(|_, body| BoxBody::new(AnswerBeforeBody { body, _unread: payload }));
    ServiceResponse::new(request, response).map_into_right_body()
}

/// An answer's body, holding the request's unread body until it is sent.
struct AnswerBeforeBody {
    body: BoxBody,
    /// Held, never read: dropped with the answer's body.
    _unread: Payload,
}

impl MessageBody for AnswerBeforeBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// A refusal as the path's kind of endpoint answers: the JSON APIs their
/// error body, the OAuth endpoints theirs, and every other path a page in
/// the person's language. The connection closes after it: what is left of
/// the request is not read.
fn answer(request: &HttpRequest, refusal: Refusal) -> HttpResponse {
    let mut response = answer_in_kind(request, refusal);
    response.head_mut().set_connection_type(ConnectionType::Close);
    response
}

fn answer_in_kind(request: &HttpRequest, refusal: Refusal) -> HttpResponse {
    let path = request.path();
    let error = Error::Refused(refusal);
    if path.starts_with("/api/") {
        let lang = super::page::lang_of(request, None);
        return super::api::in_language(lang, || ApiError(error).error_response());
    }
    // The OAuth endpoints, and the passkey options pages' scripts fetch.
    if ["/token", "/introspect", "/revoke", "/userinfo", "/device_authorization"].contains(&path)
        || path.ends_with("/options")
    {
        return error.error_response();
    }
    error_page(&error, &PageTexts::for_request(request, None))
}

/// A body read up to [`BODY_LIMIT`] and until [`BODY_TIME`] from now; past
/// either it ends in an error, and `cut` says which.
struct Limited {
    inner: Payload,
    read: usize,
    deadline: Pin<Box<Sleep>>,
    cut: Rc<Cell<Cut>>,
}

impl Limited {
    fn new(inner: Payload, cut: Rc<Cell<Cut>>) -> Self {
        Self { inner, read: 0, deadline: Box::pin(sleep_until(Instant::now() + BODY_TIME)), cut }
    }

    fn cut_off(&self, why: Cut) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.cut.set(why);
        let error = match why {
            Cut::TooLarge => PayloadError::Overflow,
            _ => PayloadError::Io(io::Error::new(io::ErrorKind::TimedOut, "the body did not arrive in time")),
        };
        Poll::Ready(Some(Err(error)))
    }
}

impl Stream for Limited {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.cut.get() != Cut::No {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.read += chunk.len();
                if self.read > BODY_LIMIT { self.cut_off(Cut::TooLarge) } else { Poll::Ready(Some(Ok(chunk))) }
            }
            // What has arrived is read however late the handler asks; only
            // a body still on its way at the deadline is cut off.
            Poll::Pending if self.deadline.as_mut().poll(cx).is_ready() => self.cut_off(Cut::TooSlow),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn a_head_within_the_limits_passes_and_one_over_any_of_them_does_not() {
        let fine =
            TestRequest::get().uri("/authorize?client_id=ledger").insert_header(("cookie", "a=b")).to_http_request();
        assert!(!head_too_large(&fine));
        let long_uri = TestRequest::get().uri(&format!("/authorize?x={}", "a".repeat(URI_LIMIT))).to_http_request();
        assert!(head_too_large(&long_uri));
        let long_header = TestRequest::get().insert_header(("cookie", "a".repeat(HEADER_LIMIT))).to_http_request();
        assert!(head_too_large(&long_header));
        let mut many = TestRequest::get();
        for n in 0..5 {
            many = many.insert_header((format!("x-filler-{n}"), "a".repeat(HEADER_LIMIT - 20)));
        }
        assert!(head_too_large(&many.to_http_request()), "five headers of almost 8 KiB are over 32 KiB");
    }

    #[test]
    fn the_head_says_what_body_follows() {
        let none = TestRequest::post().to_http_request();
        assert_eq!(declared_body(&none), DeclaredBody::None);
        let empty = TestRequest::post().insert_header((CONTENT_LENGTH, "0")).to_http_request();
        assert_eq!(declared_body(&empty), DeclaredBody::Length(0));
        let some = TestRequest::post().insert_header((CONTENT_LENGTH, "12")).to_http_request();
        assert_eq!(declared_body(&some), DeclaredBody::Length(12));
        let chunked = TestRequest::post()
            .insert_header((TRANSFER_ENCODING, "chunked"))
            .insert_header((CONTENT_LENGTH, "12"))
            .to_http_request();
        assert_eq!(declared_body(&chunked), DeclaredBody::Chunked);
    }
}
