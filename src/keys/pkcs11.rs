//! Ed25519 keys inside a PKCS#11 token (PKCS#11 v3.0: `CKK_EC_EDWARDS` keys,
//! `CKM_EC_EDWARDS_KEY_PAIR_GEN` to make them, `CKM_EDDSA` to sign), named by
//! an RFC 7512 URI. The private key is created non-extractable and never
//! leaves the token; only signatures do.
//!
//! The module (the vendor's `.so`) comes from the URI's `module-path`, else
//! from the caller (`--pkcs11-module`, `SPECLOG_PKCS11_MODULE`,
//! `pkcs11_module` in speclog.toml). The user PIN comes from the URI's
//! `pin-value` or `pin-source`, else from the caller's PIN (a file or
//! `SPECLOG_PKCS11_PIN`), else from a prompt; it is never printed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use ed25519_dalek::{Signature, VerifyingKey};
use zeroize::Zeroizing;

use super::KeyError;
use super::uri::Pkcs11Uri;
use crate::sign::{Ed25519Signer, SignError};

/// DER of the id-Ed25519 object identifier 1.3.101.112 (RFC 8410 section 3),
/// the `CKA_EC_PARAMS` of an Ed25519 key.
const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER PrintableString "edwards25519", the other `CKA_EC_PARAMS` form PKCS#11 3.0 allows.
const ED25519_NAME: &[u8] = b"\x13\x0cedwards25519";

/// Asks for a secret on a terminal; None if it cannot ask.
pub type Prompt<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What opening a token needs besides the URI.
pub struct Pkcs11Opts<'a> {
    /// The module when the URI has no `module-path`.
    pub module: Option<&'a Path>,
    /// The user PIN when the URI has none.
    pub pin: Option<&'a Zeroizing<String>>,
    /// Asks for the PIN on a terminal, when nothing else gave one.
    pub prompt: Option<Prompt<'a>>,
}

/// An Ed25519 private key in a token, with a logged-in session.
pub struct TokenKey {
    session: Mutex<Session>,
    key: ObjectHandle,
    vk: VerifyingKey,
    label: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("token", &self.label)
            .finish_non_exhaustive()
    }
}

impl Ed25519Signer for TokenKey {
    fn verifying_key(&self) -> VerifyingKey {
        self.vk
    }

    fn sign_message(&self, msg: &[u8]) -> Result<Signature, SignError> {
        let s = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let mech = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let sig = s
            .sign(&mech, self.key, msg)
            .map_err(|e| SignError::Failed {
                backend: "pkcs11",
                reason: short(&e),
            })?;
        crate::sign::checked("pkcs11", &self.vk, msg, &sig)
    }

    fn backend(&self) -> &'static str {
        "pkcs11"
    }
}

/// One loaded and initialised module per path for the whole process:
/// PKCS#11 allows one `C_Initialize` per module, and finalising one context
/// would close the sessions of every other key on it.
fn module(path: &Path) -> Result<Pkcs11, KeyError> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut m = MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(c) = m.get(path) {
        return Ok(c.clone());
    }
    let fail = |reason: String| KeyError::Pkcs11Module {
        module: path.into(),
        reason,
    };
    if !path.is_file() {
        return Err(fail("no such file".into()));
    }
    let c = Pkcs11::new(path).map_err(|e| fail(short(&e)))?;
    match c.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(fail(short(&e))),
    }
    m.insert(path.to_path_buf(), c.clone());
    Ok(c)
}

/// The module path: the URI's, else the caller's.
fn module_path(uri: &Pkcs11Uri, opts: &Pkcs11Opts) -> Result<PathBuf, KeyError> {
    match (&uri.module_path, opts.module) {
        (Some(p), _) => Ok(PathBuf::from(p)),
        (None, Some(p)) => Ok(p.to_path_buf()),
        (None, None) => Err(KeyError::NoModule(uri.redacted())),
    }
}

/// A short, one-line form of a cryptoki error (its return value's name, not
/// the specification's paragraph).
fn short(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, f) => format!("{f} returned {rv:?}"),
        other => other.to_string().lines().next().unwrap_or("").to_string(),
    }
}

/// The slot of the first token the URI matches.
fn find_token(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<(Slot, String), KeyError> {
    let slots = ctx.get_slots_with_token().map_err(|e| KeyError::Pkcs11 {
        op: "listing slots".into(),
        reason: short(&e),
    })?;
    for slot in slots {
        let Ok(info) = ctx.get_token_info(slot) else {
            continue;
        };
        let eq = |want: &Option<String>, have: &str| want.as_ref().is_none_or(|w| w == have.trim());
        if eq(&uri.token, info.label())
            && eq(&uri.manufacturer, info.manufacturer_id())
            && eq(&uri.model, info.model())
            && eq(&uri.serial, info.serial_number())
            && uri.slot_id.is_none_or(|id| id == slot.id())
            && info.token_initialized()
        {
            if info.user_pin_locked() {
                return Err(KeyError::TokenLocked(info.label().trim().into()));
            }
            return Ok((slot, info.label().trim().to_string()));
        }
    }
    Err(KeyError::TokenAbsent(uri.redacted()))
}

/// The PIN: the URI's `pin-value`, its `pin-source` file, the caller's, or a prompt.
fn pin(uri: &Pkcs11Uri, opts: &Pkcs11Opts, label: &str) -> Result<Zeroizing<String>, KeyError> {
    if let Some(p) = &uri.pin_value {
        return Ok(p.clone());
    }
    if let Some(src) = &uri.pin_source {
        let path = Path::new(src.strip_prefix("file:").unwrap_or(src));
        return match super::Passphrase::from_file(path)? {
            super::Passphrase::Given(p) => Ok(p),
            super::Passphrase::None => Err(KeyError::NeedPin(label.into())),
        };
    }
    if let Some(p) = opts.pin {
        return Ok(p.clone());
    }
    if let Some(ask) = opts.prompt
        && let Some(p) = ask(&format!("PIN for token {label}: "))
    {
        return Ok(Zeroizing::new(p));
    }
    Err(KeyError::NeedPin(label.into()))
}

/// Opens a session on the URI's token and logs the user in.
fn login(uri: &Pkcs11Uri, opts: &Pkcs11Opts, rw: bool) -> Result<(Session, String), KeyError> {
    let ctx = module(&module_path(uri, opts)?)?;
    let (slot, label) = find_token(&ctx, uri)?;
    let op = |what: &str| {
        let what = what.to_string();
        move |e: CkError| KeyError::Pkcs11 {
            op: what,
            reason: short(&e),
        }
    };
    let session = if rw {
        ctx.open_rw_session(slot)
    } else {
        ctx.open_ro_session(slot)
    }
    .map_err(op("opening a session"))?;
    let pin = pin(uri, opts, &label)?;
    match session.login(UserType::User, Some(&AuthPin::from(pin.as_str()))) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinInvalid, _)) => {
            // The token may have locked the PIN with this try.
            let locked = ctx
                .get_token_info(slot)
                .map(|i| i.user_pin_locked())
                .unwrap_or(false);
            return Err(if locked {
                KeyError::TokenLocked(label)
            } else {
                KeyError::WrongPin(label)
            });
        }
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => return Err(KeyError::TokenLocked(label)),
        Err(e) => return Err(op("logging in")(e)),
    }
    Ok((session, label))
}

/// The search template of the URI's object, of `class`.
fn template(uri: &Pkcs11Uri, class: ObjectClass) -> Vec<Attribute> {
    let mut t = vec![Attribute::Class(class)];
    if let Some(l) = &uri.object {
        t.push(Attribute::Label(l.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}

/// Reads the Ed25519 public key of a key pair from its public object
/// (`CKA_EC_POINT`: the 32 bytes, raw or as a DER OCTET STRING).
fn public_key(s: &Session, uri: &Pkcs11Uri, label: &str) -> Result<VerifyingKey, KeyError> {
    let what = || format!("{} on token {label}", uri.redacted());
    let objs = s
        .find_objects(&template(uri, ObjectClass::PUBLIC_KEY))
        .map_err(|e| KeyError::Pkcs11 {
            op: "finding the public key".into(),
            reason: short(&e),
        })?;
    let [obj] = objs[..] else {
        return Err(if objs.is_empty() {
            KeyError::ObjectAbsent(format!("the public half of {}", what()))
        } else {
            KeyError::ObjectAmbiguous(what(), objs.len())
        });
    };
    let attrs = s
        .get_attributes(
            obj,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::EcPoint,
            ],
        )
        .map_err(|e| KeyError::Pkcs11 {
            op: "reading the public key".into(),
            reason: short(&e),
        })?;
    let (mut kt, mut params, mut point) = (None, None, None);
    for a in attrs {
        match a {
            Attribute::KeyType(k) => kt = Some(k),
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    if kt != Some(KeyType::EC_EDWARDS) {
        return Err(KeyError::WrongKeyType {
            what: what(),
            found: kt.map_or("unknown".into(), |k| format!("{k}")),
        });
    }
    let params = params.unwrap_or_default();
    if params != ED25519_OID && params != ED25519_NAME {
        return Err(KeyError::WrongKeyType {
            what: what(),
            found: "EdDSA on another curve (Ed448?)".into(),
        });
    }
    let point = point.unwrap_or_default();
    let raw: &[u8] = match point.as_slice() {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
        p if p.len() == 32 => p,
        _ => {
            return Err(KeyError::WrongKeyType {
                what: what(),
                found: format!("an EC point of {} bytes", point.len()),
            });
        }
    };
    let raw: [u8; 32] = raw.try_into().expect("32 bytes");
    VerifyingKey::from_bytes(&raw).map_err(|_| KeyError::WrongKeyType {
        what: what(),
        found: "an invalid Ed25519 point".into(),
    })
}

/// Opens the URI's Ed25519 private key for signing.
pub fn open(uri: &Pkcs11Uri, opts: &Pkcs11Opts) -> Result<TokenKey, KeyError> {
    let (s, label) = login(uri, opts, false)?;
    let what = || format!("{} on token {label}", uri.redacted());
    let objs = s
        .find_objects(&template(uri, ObjectClass::PRIVATE_KEY))
        .map_err(|e| KeyError::Pkcs11 {
            op: "finding the private key".into(),
            reason: short(&e),
        })?;
    let [key] = objs[..] else {
        return Err(if objs.is_empty() {
            KeyError::ObjectAbsent(what())
        } else {
            KeyError::ObjectAmbiguous(what(), objs.len())
        });
    };
    let kt = s
        .get_attributes(key, &[AttributeType::KeyType])
        .ok()
        .and_then(|a| {
            a.into_iter().find_map(|a| match a {
                Attribute::KeyType(k) => Some(k),
                _ => None,
            })
        });
    if kt != Some(KeyType::EC_EDWARDS) {
        return Err(KeyError::WrongKeyType {
            what: what(),
            found: kt.map_or("unknown".into(), |k| format!("{k}")),
        });
    }
    let vk = public_key(&s, uri, &label)?;
    Ok(TokenKey {
        session: Mutex::new(s),
        key,
        vk,
        label,
    })
}

/// Creates an Ed25519 key pair inside the token, labelled with the URI's
/// `object` (required; refused if the token already holds an object of that
/// label), with a random `CKA_ID` unless the URI gives one. The private key
/// is sensitive and not extractable. Returns the URI that names exactly this
/// key (with its id, without any PIN) and the key, opened for signing.
pub fn generate(uri: &Pkcs11Uri, opts: &Pkcs11Opts) -> Result<(Pkcs11Uri, TokenKey), KeyError> {
    let Some(label) = uri.object.clone() else {
        return Err(KeyError::BadUri {
            uri: uri.redacted(),
            why: "it needs object=LABEL to name the new key".into(),
        });
    };
    let (s, token) = login(uri, opts, true)?;
    let op = |what: &'static str| {
        move |e: CkError| KeyError::Pkcs11 {
            op: what.into(),
            reason: short(&e),
        }
    };
    let by_label = [Attribute::Label(label.as_bytes().to_vec())];
    if !s
        .find_objects(&by_label)
        .map_err(op("finding objects"))?
        .is_empty()
    {
        return Err(KeyError::ObjectExists(format!(
            "object={label} on token {token}"
        )));
    }
    let id = match &uri.id {
        Some(id) => id.clone(),
        None => {
            let mut id = vec![0u8; 16];
            getrandom::fill(&mut id).map_err(|e| KeyError::Rng(e.to_string()))?;
            id
        }
    };
    let common = [
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.clone()),
    ];
    let mut public = common.to_vec();
    public.extend([
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(ED25519_OID.to_vec()),
    ]);
    let mut private = common.to_vec();
    private.extend([
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
    ]);
    s.generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private)
        .map_err(op("generating an Ed25519 key pair"))?;
    drop(s);
    let exact = Pkcs11Uri {
        token: Some(token),
        object: Some(label),
        id: Some(id),
        kind: None,
        pin_value: None,
        ..uri.clone()
    };
    let with_pin = Pkcs11Uri {
        pin_value: uri.pin_value.clone(),
        ..exact.clone()
    };
    let key = open(&with_pin, opts)?;
    Ok((exact, key))
}
