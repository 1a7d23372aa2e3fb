//! Authentication (token, user/password, users list, bcrypt hashes, nkey users signing
//! the INFO nonce) and the permissions a successful login grants.

use crate::nkey;
use crate::options::{
    Options, Permissions, ResponsePermission, SubjectPermission, WebsocketOptions,
};
use crate::prelude::*;
use crate::server::connect::ConnectOptions;
use crate::subject;
use core::time::Duration;
use hashbrown::HashMap;

/// Who a connection authenticated as, and what it may do.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// The user name, when a user logged in.
    pub user: Option<String>,
    /// What the user may publish and subscribe to; `None` allows everything.
    pub permissions: Option<Arc<ResolvedPermissions>>,
    /// The account the user belongs to; `None` is the global account.
    pub account: Option<String>,
}

/// A configured user, ready for checking.
#[derive(Debug, Clone)]
struct UserEntry {
    password: String,
    permissions: Option<Arc<ResolvedPermissions>>,
    account: Option<String>,
    /// `allowed_connection_types`; `None` allows all.
    allowed: Option<Vec<String>>,
}

impl UserEntry {
    fn allows(&self, connection_type: &str) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == connection_type))
    }

    fn grant(&self, name: &str) -> Grant {
        Grant {
            user: Some(name.to_string()),
            permissions: self.permissions.clone(),
            account: self.account.clone(),
        }
    }
}

/// Checks CONNECT credentials against the configured authorization.
#[derive(Debug, Clone)]
pub struct Authenticator {
    token: Option<String>,
    single_user: Option<(String, String)>,
    default_permissions: Option<Arc<ResolvedPermissions>>,
    users: HashMap<String, UserEntry>,
    /// Nkey users by public key (their entries' `password` is unused).
    nkey_users: HashMap<String, UserEntry>,
    no_auth_user: Option<String>,
    /// The type of the connections this authenticator checks, as `allowed_connection_types`
    /// names it.
    connection_type: &'static str,
}

impl Authenticator {
    /// Build from the configured authorization and the users of configured accounts.
    pub fn new(options: &Options) -> Self {
        let auth = &options.authorization;
        let resolve =
            |p: &Option<Permissions>| p.as_ref().map(|p| Arc::new(ResolvedPermissions::new(p)));
        let default_permissions = resolve(&auth.default_permissions);
        let account_users = options
            .accounts
            .iter()
            .flat_map(|a| a.users.iter().map(move |u| (u, Some(a.name.clone()))));
        let users = auth
            .users
            .iter()
            .map(|u| (u, u.account.clone()))
            .chain(account_users)
            .map(|(u, account)| {
                let entry = UserEntry {
                    password: u.password.clone(),
                    permissions: resolve(&u.permissions),
                    account,
                    allowed: u.allowed_connection_types.clone(),
                };
                (u.username.clone(), entry)
            })
            .collect();
        let account_nkeys = options
            .accounts
            .iter()
            .flat_map(|a| a.nkey_users.iter().map(move |u| (u, Some(a.name.clone()))));
        let nkey_users = auth
            .nkey_users
            .iter()
            .map(|u| (u, u.account.clone()))
            .chain(account_nkeys)
            .map(|(u, account)| {
                let entry = UserEntry {
                    password: String::new(),
                    permissions: resolve(&u.permissions),
                    account,
                    allowed: u.allowed_connection_types.clone(),
                };
                (u.public_key.clone(), entry)
            })
            .collect();
        Authenticator {
            token: auth.token.clone(),
            single_user: auth
                .user
                .as_ref()
                .map(|u| (u.clone(), auth.password.clone().unwrap_or_default())),
            default_permissions,
            users,
            nkey_users,
            no_auth_user: auth.no_auth_user.clone(),
            connection_type: "STANDARD",
        }
    }

    /// The authenticator of WebSocket clients when the `websocket` block sets its own
    /// authentication ([`WebsocketOptions::auth_override`]): as nats-server, its user,
    /// password, token and `no_auth_user` replace the top-level ones (the users list stays;
    /// config validation keeps a block user or token away from it). Its single user and
    /// token user get no permissions, as in nats-server.
    pub fn for_websocket(options: &Options, websocket: &WebsocketOptions) -> Self {
        let mut auth = Authenticator::new(options);
        auth.token = websocket.token.clone();
        auth.single_user = websocket.username.as_ref().map(|user| {
            let password = websocket.password.clone().unwrap_or_default();
            (user.clone(), password)
        });
        auth.default_permissions = None;
        auth.no_auth_user = websocket.no_auth_user.clone();
        auth.for_connection_type("WEBSOCKET")
    }

    /// The same users, checked as connections of `connection_type` (an
    /// `allowed_connection_types` name such as `WEBSOCKET`).
    pub fn for_connection_type(mut self, connection_type: &'static str) -> Self {
        self.connection_type = connection_type;
        self
    }

    /// Whether clients must authenticate.
    pub fn is_required(&self) -> bool {
        self.token.is_some()
            || self.single_user.is_some()
            || !self.users.is_empty()
            || !self.nkey_users.is_empty()
    }

    /// Whether clients get a nonce to sign in INFO (nkey users are configured).
    pub fn needs_nonce(&self) -> bool {
        !self.nkey_users.is_empty()
    }

    /// Check the credentials of a CONNECT from a client that was sent `nonce` (empty when
    /// none); `None` means `Authorization Violation`.
    pub fn authenticate(&self, connect: &ConnectOptions, nonce: &str) -> Option<Grant> {
        if !self.is_required() {
            return Some(Grant::default());
        }
        if let (false, Some(key)) = (self.nkey_users.is_empty(), connect.nkey.as_deref()) {
            // As nats-server: a CONNECT naming an nkey stands or falls with it.
            let entry = self.nkey_users.get(key)?;
            if !entry.allows(self.connection_type) {
                return None;
            }
            let sig = connect.sig.as_deref()?;
            return (!nonce.is_empty() && nkey::verify(key, nonce.as_bytes(), sig))
                .then(|| entry.grant(key));
        }
        if let Some(token) = &self.token {
            let given = connect.auth_token.as_deref()?;
            return password_matches(token, given).then(|| Grant {
                user: None,
                permissions: self.default_permissions.clone(),
                account: None,
            });
        }
        let no_credentials =
            connect.user.is_none() && connect.pass.is_none() && connect.auth_token.is_none();
        if no_credentials {
            let user = self.no_auth_user.as_ref()?;
            let entry = self.users.get(user)?;
            return entry
                .allows(self.connection_type)
                .then(|| entry.grant(user));
        }
        let user = connect.user.as_deref()?;
        let pass = connect.pass.as_deref().unwrap_or("");
        if let Some((name, password)) = &self.single_user {
            return (name == user && password_matches(password, pass)).then(|| Grant {
                user: Some(name.clone()),
                permissions: self.default_permissions.clone(),
                account: None,
            });
        }
        let entry = self.users.get(user)?;
        (entry.allows(self.connection_type) && password_matches(&entry.password, pass))
            .then(|| entry.grant(user))
    }
}

/// Compare a configured secret (plain or bcrypt `$2…$`) with what the client sent.
pub fn password_matches(configured: &str, given: &str) -> bool {
    if configured.starts_with("$2") {
        return bcrypt_verify(given, configured);
    }
    constant_time_eq(configured.as_bytes(), given.as_bytes())
}

#[cfg(not(any(target_arch = "wasm32", target_os = "none")))]
fn bcrypt_verify(given: &str, hash: &str) -> bool {
    bcrypt::verify(given, hash).unwrap_or(false)
}

#[cfg(any(target_arch = "wasm32", target_os = "none"))]
fn bcrypt_verify(_given: &str, _hash: &str) -> bool {
    // bcrypt needs `std` and OS entropy (its crate pulls in getrandom); without them
    // hashes never match.
    false
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Allow/deny lists of one direction, ready for matching.
#[derive(Debug, Clone, Default)]
pub struct SubjectRules {
    allow: Vec<Box<[u8]>>,
    deny: Vec<Box<[u8]>>,
}

impl SubjectRules {
    fn new(p: &SubjectPermission) -> Self {
        let to_boxed = |v: &Vec<String>| v.iter().map(|s| s.as_bytes().into()).collect();
        SubjectRules {
            allow: to_boxed(&p.allow),
            deny: to_boxed(&p.deny),
        }
    }

    /// Whether a literal subject is allowed: it matches an allow entry (or there are
    /// none) and no deny entry.
    pub fn allows_literal(&self, subject: &[u8]) -> bool {
        let allowed =
            self.allow.is_empty() || self.allow.iter().any(|p| subject::matches(p, subject));
        allowed && !self.denies(subject)
    }

    /// Whether a subscription subject (which may hold wildcards) is allowed: it is matched
    /// by, or a subset of, an allow entry, and not matched by a deny entry.
    pub fn allows_subscription(&self, sub: &[u8]) -> bool {
        let allowed = self.allow.is_empty()
            || self
                .allow
                .iter()
                .any(|p| subject::matches(p, sub) || subject::is_subset_match(sub, p));
        allowed && !self.denies(sub)
    }

    /// Whether a subject hits a deny entry.
    pub fn denies(&self, subject: &[u8]) -> bool {
        self.deny.iter().any(|p| subject::matches(p, subject))
    }

    /// Whether there are deny entries.
    pub fn has_deny(&self) -> bool {
        !self.deny.is_empty()
    }
}

/// A user's permissions, ready for matching.
#[derive(Debug, Clone, Default)]
pub struct ResolvedPermissions {
    /// Publish rules.
    pub publish: Option<SubjectRules>,
    /// Subscribe rules.
    pub subscribe: Option<SubjectRules>,
    /// `allow_responses`.
    pub response: Option<(usize, Duration)>,
}

impl ResolvedPermissions {
    /// Resolve configured permissions.
    pub fn new(p: &Permissions) -> Self {
        let response = p.response.as_ref().map(|r: &ResponsePermission| {
            (if r.max_msgs == 0 { 1 } else { r.max_msgs }, r.expires)
        });
        ResolvedPermissions {
            publish: p.publish.as_ref().map(SubjectRules::new),
            subscribe: p.subscribe.as_ref().map(SubjectRules::new),
            response,
        }
    }

    /// Whether publishing to a literal subject is allowed by the publish rules alone.
    pub fn can_publish(&self, subject: &[u8]) -> bool {
        self.publish
            .as_ref()
            .is_none_or(|rules| rules.allows_literal(subject))
    }

    /// Whether subscribing to `subject` is allowed.
    pub fn can_subscribe(&self, subject: &[u8]) -> bool {
        self.subscribe
            .as_ref()
            .is_none_or(|rules| rules.allows_subscription(subject))
    }

    /// Whether a message on `subject` must be withheld from a subscriber (deny rules are
    /// applied at delivery so a wide SUB cannot receive denied subjects).
    pub fn delivery_denied(&self, subject: &[u8]) -> bool {
        self.subscribe
            .as_ref()
            .is_some_and(|rules| rules.has_deny() && rules.denies(subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{AccountOptions, Authorization, User};

    fn with_auth(authorization: Authorization) -> Options {
        Options {
            authorization,
            ..Options::default()
        }
    }

    #[test]
    fn account_users_log_into_their_account() {
        let opts = Options {
            accounts: vec![AccountOptions {
                name: "A".into(),
                users: vec![User {
                    username: "a".into(),
                    password: "pa".into(),
                    account: Some("A".into()),
                    ..User::default()
                }],
                ..AccountOptions::default()
            }],
            ..Options::default()
        };
        let auth = Authenticator::new(&opts);
        assert!(auth.is_required());
        let g = auth
            .authenticate(&connect(Some("a"), Some("pa"), None), "")
            .unwrap();
        assert_eq!(g.account.as_deref(), Some("A"));
        assert!(auth
            .authenticate(&connect(Some("a"), Some("x"), None), "")
            .is_none());
    }

    fn connect(user: Option<&str>, pass: Option<&str>, token: Option<&str>) -> ConnectOptions {
        ConnectOptions {
            user: user.map(Into::into),
            pass: pass.map(Into::into),
            auth_token: token.map(Into::into),
            ..ConnectOptions::default()
        }
    }

    #[test]
    fn nkey_users_sign_the_nonce() {
        let kp = nkeys::KeyPair::new_user();
        let auth = Authenticator::new(&with_auth(Authorization {
            nkey_users: vec![crate::options::NkeyUser {
                public_key: kp.public_key(),
                ..Default::default()
            }],
            ..Default::default()
        }));
        assert!(auth.is_required() && auth.needs_nonce());
        let nonce = "Zm9vYmFyYmF6cXV";
        let signed = |kp: &nkeys::KeyPair, nonce: &str| {
            let sig = kp.sign(nonce.as_bytes()).unwrap();
            let sig: String = sig
                .iter()
                .map(|b| format!("{b:08b}"))
                .collect::<String>()
                .as_bytes()
                .chunks(6)
                .map(|bits| {
                    let mut v = 0usize;
                    for (i, b) in bits.iter().enumerate() {
                        v |= usize::from(*b == b'1') << (5 - i);
                    }
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[v] as char
                })
                .collect();
            ConnectOptions {
                nkey: Some(kp.public_key()),
                sig: Some(sig),
                ..ConnectOptions::default()
            }
        };
        let g = auth.authenticate(&signed(&kp, nonce), nonce).unwrap();
        assert_eq!(g.user, Some(kp.public_key()));
        // Another connection's nonce, another key, no signature, no nonce: refused.
        assert!(auth.authenticate(&signed(&kp, "other"), nonce).is_none());
        let stranger = nkeys::KeyPair::new_user();
        assert!(auth
            .authenticate(&signed(&stranger, nonce), nonce)
            .is_none());
        let mut unsigned = signed(&kp, nonce);
        unsigned.sig = None;
        assert!(auth.authenticate(&unsigned, nonce).is_none());
        assert!(auth.authenticate(&signed(&kp, ""), "").is_none());
        assert!(auth
            .authenticate(&connect(None, None, None), nonce)
            .is_none());
    }

    #[test]
    fn token_user_and_users_list() {
        let auth = Authenticator::new(&with_auth(Authorization {
            token: Some("s3cr3t".into()),
            ..Default::default()
        }));
        assert!(auth
            .authenticate(&connect(None, None, Some("s3cr3t")), "")
            .is_some());
        assert!(auth
            .authenticate(&connect(None, None, Some("nope")), "")
            .is_none());
        assert!(auth.authenticate(&connect(None, None, None), "").is_none());

        let auth = Authenticator::new(&with_auth(Authorization {
            user: Some("derek".into()),
            password: Some("pw".into()),
            ..Default::default()
        }));
        assert!(auth
            .authenticate(&connect(Some("derek"), Some("pw"), None), "")
            .is_some());
        assert!(auth
            .authenticate(&connect(Some("derek"), Some("x"), None), "")
            .is_none());

        let hash = bcrypt::hash("password", 4).unwrap();
        assert!(hash.starts_with("$2"));
        let auth = Authenticator::new(&with_auth(Authorization {
            users: vec![User {
                username: "a".into(),
                password: hash,
                ..User::default()
            }],
            no_auth_user: Some("a".into()),
            ..Default::default()
        }));
        let g = auth
            .authenticate(&connect(Some("a"), Some("password"), None), "")
            .unwrap();
        assert_eq!(g.user.as_deref(), Some("a"));
        assert!(auth
            .authenticate(&connect(Some("a"), Some("pass"), None), "")
            .is_none());
        assert_eq!(
            auth.authenticate(&connect(None, None, None), "")
                .unwrap()
                .user
                .as_deref(),
            Some("a")
        );
    }
}
