//! Customer service registers applications (OpenID Connect clients), as
//! `portti client add` does.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Bearer, ErrorBody, as_admin};
use crate::AppState;
use crate::domain::admin::{self, customer_service};
use crate::domain::client::{ClientKind, NewClient, RegisteredClient};
use crate::web::api::ApiResult;

/// An application to register.
#[derive(Deserialize, ToSchema)]
pub struct NewClientBody {
    /// Letters, digits, `.`, `_` and `-`.
    pub client_id: String,
    /// The name people are shown (approval pages, the phone); default the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Matched exactly: `https`, `http` only to a loopback address, a private-use scheme only for a public client.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default: `authorization_code` and `refresh_token`.
    #[serde(default)]
    pub grants: Vec<String>,
    /// A public client (a mobile or single-page app): no secret, PKCE required.
    #[serde(default)]
    pub public: bool,
    /// A first-party application: no consent page; may ask for the `admin` scope.
    #[serde(default)]
    pub first_party: bool,
}

/// A registered application.
#[derive(Serialize, ToSchema)]
pub struct ClientBody {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<String>,
    pub first_party: bool,
    /// A confidential client's generated secret: in this answer only (only its digest is stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<RegisteredClient> for ClientBody {
    fn from(registered: RegisteredClient) -> Self {
        let client = registered.client;
        Self {
            client_id: client.id.as_str().to_owned(),
            name: client.display_name().to_owned(),
            public: registered.public,
            redirect_uris: client.redirect_uris,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            grants: client.grants.iter().map(|g| g.as_str().to_owned()).collect(),
            first_party: client.first_party,
            client_secret: registered.client_secret,
        }
    }
}

/// Registers an application (support only). A confidential one's secret is
/// generated and returned this once.
#[utoipa::path(
    post,
    path = "/clients",
    request_body = NewClientBody,
    responses(
        (status = 201, body = ClientBody),
        (status = 400, description = "`invalid_request`: the id, a redirect URI or a grant", body = ErrorBody),
        (status = 403, description = "`forbidden`: not support", body = ErrorBody),
        (status = 409, description = "`conflict`: the id is taken", body = ErrorBody)
    )
)]
#[post("/clients")]
pub async fn add_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    body: web::Json<NewClientBody>,
) -> ApiResult<HttpResponse> {
    let NewClientBody { client_id, name, redirect_uris, post_logout_redirect_uris, grants, public, first_party } =
        body.into_inner();
    let kind = if public { ClientKind::Public } else { ClientKind::Confidential { secret: None } };
    let registered = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let support = customer_service(ctx, now, admin)?;
        let new =
            NewClient::parse(&client_id, kind, &redirect_uris, &post_logout_redirect_uris, &grants, first_party, None)?
                .named(name.as_deref())?;
        admin::clients::register(ctx, now, &support, new)
    })
    .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(ClientBody::from(registered)))
}
