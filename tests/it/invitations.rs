//! Inviting a foreign user (issue 11, the first step): an administrator
//! within reach sends a 16-character sign-up code by email, valid 24 hours;
//! a re-invite replaces the live invitation, and after a contact change only
//! customer service may send one; cancelling ends it at once. Through the
//! domain, on both backends (the admin API and pages come next).

use diesel::prelude::*;
use portti::domain::access::{AccessRight, CompanyRole};
use portti::domain::admin::invitations::{self, InvitationContext, InvitationState};
use portti::domain::admin::reach;
use portti::domain::company::add_company;
use portti::domain::ids::{CompanyId, UserId};
use portti::domain::user::{MembershipInput, NewUserInput, add_user};
use portti::error::{Error, Refusal};
use portti::store::schema::{invitations as invitation_rows, outbox};

use crate::support::fixtures::member;
use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    an_administrator_within_reach_invites_re_invites_and_cancels,
    another_companys_administrator_cannot_redirect_the_codes,
    a_user_administrator_cannot_change_where_an_office_admins_codes_go,
    one_companys_administrator_cannot_change_a_person_who_belongs_elsewhere_too,
);

fn an_administrator_within_reach_invites_re_invites_and_cancels(db: &TestDb) {
    let state = db.open("");
    let now = state.clock.now();
    let company = add_company(&state.store, 1, "Asiakas Oy", None).unwrap();
    let elsewhere = add_company(&state.store, 1, "Muu Oy", None).unwrap();
    let admin = member(&state, "kh@example.com", &company.id, vec![CompanyRole::UserAdmin], false);
    let invitee = member(&state, "john@example.com", &company.id, vec![], false);
    let stranger = member(&state, "other@example.com", &elsewhere.id, vec![], false);
    let support = member(&state, "support@example.com", &elsewhere.id, vec![], true);
    let ctx = InvitationContext {
        store: &state.store,
        keys: &state.keys,
        issuer: &state.settings.issuer,
        origin: Default::default(),
    };
    let reach_of = |actor: &UserId, company: &CompanyId| state.store.read(|r| reach(r, actor, company)).unwrap();
    let kh = reach_of(&admin, &company.id).expect("a user admin reaches their company");
    assert!(reach_of(&admin, &elsewhere.id).is_none(), "and no other");
    let rows = || invitation_rows::table.count().get_result::<i64>(&mut db.connection()).unwrap();

    // The identity must have been checked.
    let unchecked = invitations::invite(&ctx, now, &kh, &invitee, false);
    assert!(matches!(unchecked, Err(Error::Refused(Refusal::IdentityNotVerified))), "{unchecked:?}");
    assert_eq!(rows(), 0);
    // The activation texts a code: a person without a phone for codes cannot be invited.
    let no_phone = NewUserInput {
        email: "nophone@example.com".to_owned(),
        name: "No Phone".to_owned(),
        memberships: vec![MembershipInput { company_id: company.id.clone(), roles: vec![], rights: vec![] }],
        ..Default::default()
    };
    let no_phone = add_user(&state.store, &state.keys, 1, no_phone).unwrap().user.id;
    let refused = invitations::invite(&ctx, now, &kh, &no_phone, true);
    assert!(matches!(refused, Err(Error::Refused(Refusal::PhoneMissing))), "{refused:?}");
    assert_eq!(rows(), 0);
    // A person of another company is out of reach: not found.
    assert!(matches!(invitations::invite(&ctx, now, &kh, &stranger, true), Err(Error::NotFound(_))));

    let first = invitations::invite(&ctx, now, &kh, &invitee, true).unwrap();
    assert_eq!((first.state, first.expires_at), (InvitationState::Sent, now + 24 * 3600));
    // The email, in English, holds the code in groups of four; only its keyed hash is stored.
    let (id, sealed): (String, Option<String>) = outbox::table
        .filter(outbox::recipient.eq("john@example.com"))
        .select((outbox::id, outbox::sealed_content))
        .get_result(&mut db.connection())
        .unwrap();
    let mail = String::from_utf8(state.keys.open(&format!("outbox:{id}"), &sealed.unwrap()).unwrap()).unwrap();
    assert!(mail.contains("Your invitation to Asiakas Oy") && mail.contains("valid for 24 hours"), "{mail}");
    let start = mail.find("sign-up code is ").unwrap() + "sign-up code is ".len();
    let code = &mail[start..start + 19];
    assert!(code.split('-').all(|group| group.len() == 4) && code.matches('-').count() == 3, "{code}");
    let digest: String =
        invitation_rows::table.select(invitation_rows::code_digest).get_result(&mut db.connection()).unwrap();
    assert!(!digest.contains(&code.replace('-', "")), "the code itself is not stored");

    // A re-invite replaces the live invitation.
    let second = invitations::invite(&ctx, now + 60, &kh, &invitee, true).unwrap();
    let state_of = |id: &str| -> String {
        invitation_rows::table.find(id).select(invitation_rows::state).get_result(&mut db.connection()).unwrap()
    };
    assert_eq!((state_of(&first.id).as_str(), state_of(&second.id).as_str()), ("replaced", "sent"));

    // After a contact change only customer service re-invites.
    state.store.write(|tx| tx.set_communication_phone(&invitee, "+46709999999", now)).unwrap();
    let refused = invitations::invite(&ctx, now + 120, &kh, &invitee, true);
    assert!(matches!(refused, Err(Error::Refused(Refusal::SupportMustReinvite))), "{refused:?}");
    assert_eq!(state_of(&second.id), "sent", "a refused re-invite changes nothing");
    let service = reach_of(&support, &company.id).expect("support reaches every company");
    let third = invitations::invite(&ctx, now + 180, &service, &invitee, true).unwrap();
    assert_eq!(state_of(&second.id), "replaced");

    // Cancelling ends it at once; another company's administrator does not find it.
    let other_admin = member(&state, "kh2@example.com", &elsewhere.id, vec![CompanyRole::UserAdmin], false);
    let theirs = reach_of(&other_admin, &elsewhere.id).unwrap();
    assert!(matches!(invitations::cancel(&ctx, now, &theirs, &third.id), Err(Error::NotFound(_))));
    invitations::cancel(&ctx, now + 240, &kh, &third.id).unwrap();
    assert_eq!(state_of(&third.id), "cancelled");

    // Each is in the company's audit log, the refused re-invite too.
    let actions: Vec<String> = portti::store::schema::audit_events::table
        .filter(portti::store::schema::audit_events::company_id.eq(company.id.as_str()))
        .order(portti::store::schema::audit_events::at)
        .select(portti::store::schema::audit_events::action)
        .load(&mut db.connection())
        .unwrap();
    assert_eq!(
        actions,
        ["invitation_sent", "invitation_sent", "admin_refused", "invitation_sent", "invitation_cancelled"]
    );
}

/// A person in two companies, invited by the first: the second company's
/// administrator, after changing where codes go, may not invite them afresh
/// (the codes would reach whoever the new contacts are); customer service may.
fn another_companys_administrator_cannot_redirect_the_codes(db: &TestDb) {
    let state = db.open("");
    let now = state.clock.now();
    let first = add_company(&state.store, 1, "Asiakas Oy", None).unwrap();
    let second = add_company(&state.store, 1, "Toinen Oy", None).unwrap();
    let kh = member(&state, "kh@example.com", &first.id, vec![CompanyRole::UserAdmin], false);
    let kh2 = member(&state, "kh2@example.com", &second.id, vec![CompanyRole::UserAdmin], false);
    let invitee = member(&state, "john@example.com", &first.id, vec![], false);
    let in_second = portti::domain::access::Membership { company_id: second.id.clone(), roles: vec![], rights: vec![] };
    state.store.write(|tx| tx.insert_membership(&invitee, &in_second, now)).unwrap();
    let ctx = InvitationContext {
        store: &state.store,
        keys: &state.keys,
        issuer: &state.settings.issuer,
        origin: Default::default(),
    };
    let reach_of =
        |actor: &UserId, company: &CompanyId| state.store.read(|r| reach(r, actor, company)).unwrap().unwrap();
    invitations::invite(&ctx, now, &reach_of(&kh, &first.id), &invitee, true).unwrap();

    state.store.write(|tx| tx.set_communication_phone(&invitee, "+46709999999", now)).unwrap();
    let refused = invitations::invite(&ctx, now + 60, &reach_of(&kh2, &second.id), &invitee, true);
    assert!(matches!(refused, Err(Error::Refused(Refusal::SupportMustReinvite))), "{refused:?}");
}

/// A user administrator of an accounting office reaches its main user
/// (`office_admin`), but may not change their details, and so where their
/// codes go: forbidden, recorded. The office admin may change their own
/// office's user administrator's.
fn a_user_administrator_cannot_change_where_an_office_admins_codes_go(db: &TestDb) {
    use portti::domain::admin::users::{self, BasicInformation};
    use portti::domain::admin::{AdminContext, administrator, user_reach};
    let state = db.open("");
    let now = state.clock.now();
    let office = add_company(&state.store, 1, "Tilitoimisto Oy", None).unwrap();
    let kh = member(&state, "kh@example.com", &office.id, vec![CompanyRole::UserAdmin], false);
    let tpk = member(&state, "tpk@example.com", &office.id, vec![CompanyRole::OfficeAdmin], false);
    let ctx = AdminContext {
        store: &state.store,
        keys: &state.keys,
        issuer: &state.settings.issuer,
        origin: Default::default(),
    };
    let as_kh = administrator(&ctx, now, &kh).unwrap();
    let reached = user_reach(&ctx, now, &as_kh, &tpk).unwrap();
    let redirect = users::set_communication_phone(&ctx, now, &reached, "+46709999999");
    assert!(matches!(redirect, Err(Error::Refused(Refusal::Forbidden))), "{redirect:?}");
    let email = BasicInformation { name: None, email: Some("kh-owned@example.com".into()), phone: None };
    let renamed = users::update_basic(&ctx, now, &reached, email);
    assert!(matches!(renamed, Err(Error::Refused(Refusal::Forbidden))), "{renamed:?}");
    let unchanged = state.store.read(|r| r.user(&tpk)).unwrap().unwrap();
    assert_eq!(unchanged.email.as_str(), "tpk@example.com");
    assert_eq!(unchanged.communication.phone.unwrap().as_str(), "+46701234567");

    let as_tpk = administrator(&ctx, now, &tpk).unwrap();
    let reached = user_reach(&ctx, now, &as_tpk, &kh).unwrap();
    users::set_communication_phone(&ctx, now, &reached, "+46709999999").unwrap();
}

/// Whoever controls a person's contacts and identity code can sign in as
/// them everywhere, so one company's user administrator may not change a
/// person who also belongs to a company beyond their reach: an office's
/// main user who is a plain member of a client company, or a consultant
/// working for two companies. Forbidden, recorded, and nothing changes.
fn one_companys_administrator_cannot_change_a_person_who_belongs_elsewhere_too(db: &TestDb) {
    use portti::domain::access::Membership;
    use portti::domain::admin::users::{self, BasicInformation};
    use portti::domain::admin::{AdminContext, administrator, user_reach};
    let state = db.open("");
    let now = state.clock.now();
    let office = add_company(&state.store, 1, "Tilitoimisto Oy", None).unwrap();
    let client = add_company(&state.store, 1, "Asiakas Oy", Some(&office.id)).unwrap();
    let other = add_company(&state.store, 1, "Muu Oy", None).unwrap();
    let kh = member(&state, "kh@example.com", &client.id, vec![CompanyRole::UserAdmin], false);
    let tpk = member(&state, "tpk@example.com", &office.id, vec![CompanyRole::OfficeAdmin], false);
    let consultant = member(&state, "consultant@example.com", &client.id, vec![], false);
    let also = |user: &UserId, company: &CompanyId| {
        let membership = Membership {
            company_id: company.clone(),
            roles: vec![],
            rights: vec![AccessRight::parse("ledger").unwrap()],
        };
        state.store.write(|tx| tx.replace_membership(user, &membership, now)).unwrap();
    };
    also(&tpk, &client.id);
    also(&consultant, &other.id);
    let ctx = AdminContext {
        store: &state.store,
        keys: &state.keys,
        issuer: &state.settings.issuer,
        origin: Default::default(),
    };
    let as_kh = administrator(&ctx, now, &kh).unwrap();
    for target in [&tpk, &consultant] {
        let reached = user_reach(&ctx, now, &as_kh, target).unwrap();
        let phone = users::set_communication_phone(&ctx, now, &reached, "+46709999999");
        assert!(matches!(phone, Err(Error::Refused(Refusal::Forbidden))), "{phone:?}");
        let email = BasicInformation { name: None, email: Some("kh-owned@example.com".into()), phone: None };
        let email = users::update_basic(&ctx, now, &reached, email);
        assert!(matches!(email, Err(Error::Refused(Refusal::Forbidden))), "{email:?}");
        let code = users::set_national_id(&ctx, now, &reached, "131052-308T");
        assert!(matches!(code, Err(Error::Refused(Refusal::Forbidden))), "{code:?}");
        let unchanged = state.store.read(|r| r.user(target)).unwrap().unwrap();
        assert_eq!(unchanged.communication.phone.unwrap().as_str(), "+46701234567");
        assert!(!unchanged.email.as_str().starts_with("kh-owned") && !unchanged.has_national_id);
    }
    // The office's main user reaches the office and its client, but not
    // Muu Oy, which the consultant also works for.
    let as_tpk = administrator(&ctx, now, &tpk).unwrap();
    let reached = user_reach(&ctx, now, &as_tpk, &consultant).unwrap();
    assert!(!reached.outranks());
    // But a person only of the office's client is theirs to change.
    let reached = user_reach(&ctx, now, &as_tpk, &kh).unwrap();
    users::set_communication_phone(&ctx, now, &reached, "+46709999999").unwrap();

    // Authority counts company by company: an office admin elsewhere is
    // still only a user administrator of the office, whose main user they
    // may not change though they reach both of the main user's companies.
    let elsewhere = add_company(&state.store, 1, "Toinen toimisto Oy", None).unwrap();
    let both = member(&state, "both@example.com", &office.id, vec![CompanyRole::UserAdmin], false);
    let main_user_there =
        Membership { company_id: elsewhere.id.clone(), roles: vec![CompanyRole::OfficeAdmin], rights: vec![] };
    state.store.write(|tx| tx.replace_membership(&both, &main_user_there, now)).unwrap();
    let main_user = member(&state, "main@example.com", &office.id, vec![CompanyRole::OfficeAdmin], false);
    also(&main_user, &elsewhere.id);
    let as_both = administrator(&ctx, now, &both).unwrap();
    let reached = user_reach(&ctx, now, &as_both, &main_user).unwrap();
    assert!(!reached.outranks(), "a user administrator of the main user's own office");
    let phone = users::set_communication_phone(&ctx, now, &reached, "+46709999999");
    assert!(matches!(phone, Err(Error::Refused(Refusal::Forbidden))), "{phone:?}");

    // Nor may an administrator put a person into another company of theirs.
    let clerk = member(&state, "clerk@example.com", &office.id, vec![], false);
    let reached = user_reach(&ctx, now, &as_both, &clerk).unwrap();
    let there = portti::domain::admin::company_reach(&ctx, now, &as_both, &elsewhere.id).unwrap();
    let enrol = users::RightsChange { rights: vec!["ledger".into()], roles: vec![] };
    let enrolled = users::set_rights(&ctx, now, &reached, &there, enrol);
    assert!(matches!(enrolled, Err(Error::NotFound(_))), "{enrolled:?}");
    let companies = state.store.read(|r| r.memberships(&clerk)).unwrap();
    assert_eq!(companies.len(), 1, "still only the office's");
}
