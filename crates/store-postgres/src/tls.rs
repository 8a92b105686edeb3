//! TLS to PostgreSQL with rustls (ring, no OpenSSL): libpq's `sslmode`, `sslrootcert`, `sslcert` and
//! `sslkey`, with libpq's rules for when the server's certificate is checked:
//!
//! | sslmode | encrypted | chain checked | host name checked |
//! |---|---|---|---|
//! | `disable` | never | | |
//! | `allow` | if the server refuses plain text | if a root certificate is known | no |
//! | `prefer` (default) | if the server offers it | if a root certificate is known | no |
//! | `require` | always | if a root certificate is known (then it is `verify-ca`) | no |
//! | `verify-ca` | always | always (a root certificate is required) | no |
//! | `verify-full` | always | always | always |
//!
//! A root certificate is "known" when `sslrootcert` names a file, or, as in libpq, when
//! `~/.postgresql/root.crt` exists. `sslrootcert=system` trusts the operating system's CAs and, as in
//! libpq, demands `verify-full`. Files are read once, at start-up (or when a tenant's database is
//! opened), so that a missing or unreadable file is a configuration error, never a silent downgrade.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_postgres::Socket;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub const NAMES: &'static str = "disable, allow, prefer, require, verify-ca, verify-full";

    pub fn parse(value: &str) -> Option<SslMode> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A value and the setting it came from (a key, or an attribute of the URI), for messages.
#[derive(Clone, Debug)]
pub struct Origin<T> {
    pub value: T,
    pub from: String,
}

/// What the configuration says about TLS, before any file is read.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    pub mode: Option<Origin<SslMode>>,
    pub root_cert: Option<Origin<String>>,
    pub cert: Option<Origin<String>>,
    pub key: Option<Origin<String>>,
    /// pgjdbc's `sslfactory=org.postgresql.ssl.NonValidatingFactory`: encrypt, check nothing.
    pub non_validating: bool,
    /// Where libpq looks when the files are not named (`~/.postgresql`); `None` without a home.
    pub default_dir: Option<PathBuf>,
}

/// How the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    None,
    Chain,
    ChainAndName,
}

/// The TLS part of the connection settings, files read.
#[derive(Clone)]
pub struct Tls {
    pub mode: SslMode,
    /// Where the mode came from ("sslmode in postgresql_connection_uri", "postgresql_sslmode", or
    /// "the default"), to name the setting to change in messages.
    pub mode_from: String,
    pub verification: Verification,
    /// The trusted roots, for messages ("/etc/ssl/ca.pem (sslrootcert in postgresql_connection_uri)").
    pub roots_from: Option<String>,
    pub client_cert: bool,
    /// `None` with `sslmode=disable`.
    config: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("mode", &self.mode)
            .field("verification", &self.verification)
            .field("roots", &self.roots_from)
            .field("client_cert", &self.client_cert)
            .finish()
    }
}

impl Tls {
    /// Applies libpq's rules to the options and reads the files they name.
    pub fn build(opts: &TlsOptions) -> Result<Tls, String> {
        let system = opts.root_cert.as_ref().filter(|r| r.value == "system");
        let (mode, mode_from) = match (&opts.mode, system) {
            (Some(m), Some(root)) if m.value != SslMode::VerifyFull => {
                return Err(format!(
                    "sslmode={} ({}) may not be used with sslrootcert=system ({}): the system's CAs vouch for \
                     names, so use sslmode=verify-full",
                    m.value.name(),
                    m.from,
                    root.from
                ))
            }
            (Some(m), _) => (m.value, m.from.clone()),
            // libpq: sslrootcert=system makes verify-full the default.
            (None, Some(root)) => (SslMode::VerifyFull, format!("the default with sslrootcert=system ({})", root.from)),
            (None, None) => (SslMode::Prefer, "the default".to_owned()),
        };
        if mode == SslMode::Disable {
            return Ok(Tls {
                mode,
                mode_from,
                verification: Verification::None,
                roots_from: None,
                client_cert: false,
                config: None,
            });
        }

        let (roots, roots_from) = load_roots(opts)?;
        let verification = match (mode, &roots) {
            _ if opts.non_validating => Verification::None,
            (SslMode::VerifyFull, Some(_)) => Verification::ChainAndName,
            (SslMode::VerifyCa, Some(_)) => Verification::Chain,
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
                return Err(format!(
                    "sslmode={} ({mode_from}) checks the server's certificate, which needs the CA that signed it: set \
                     sslrootcert (postgresql_sslrootcert) to a PEM file of CA certificates, or to 'system' for the \
                     operating system's CAs; or use sslmode=require to encrypt without checking",
                    mode.name()
                ))
            }
            // libpq: with a root certificate at hand, the other modes check the chain too.
            (_, Some(_)) => Verification::Chain,
            (_, None) => Verification::None,
        };
        let client = load_client_cert(opts)?;

        // ring rather than aws-lc-rs: no C/cmake build. rustls deprecates it only because ring has no
        // post-quantum key exchange, which PostgreSQL servers do not negotiate in practice.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(Verifier {
            roots: if verification == Verification::None { None } else { roots.map(Arc::new) },
            check_name: verification == Verification::ChainAndName,
            algorithms: provider.signature_verification_algorithms,
        });
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let client_cert = client.is_some();
        let config = match client {
            Some((certs, key, from)) => builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("the client certificate and key ({from}) cannot be used: {e}"))?,
            None => builder.with_no_client_auth(),
        };
        Ok(Tls { mode, mode_from, verification, roots_from, client_cert, config: Some(Arc::new(config)) })
    }

    /// The connector for tokio-postgres; with `sslmode=disable` one that is never asked to connect.
    pub fn connector(&self) -> MakeRustls {
        MakeRustls {
            config: self.config.clone(),
            hints: Arc::new(self.describe_context()),
            attempted: Arc::new(AtomicBool::new(false)),
        }
    }

    fn describe_context(&self) -> Hints {
        Hints {
            mode: self.mode,
            mode_from: self.mode_from.clone(),
            roots_from: self.roots_from.clone(),
            client_cert: self.client_cert,
        }
    }
}

/// The roots to check the server against: `sslrootcert`'s file, the system's, or libpq's default file
/// when it exists.
fn load_roots(opts: &TlsOptions) -> Result<(Option<RootCertStore>, Option<String>), String> {
    let (path, from) = match &opts.root_cert {
        Some(r) if r.value == "system" => {
            let found = rustls_native_certs::load_native_certs();
            let mut store = RootCertStore::empty();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found.errors.first().map(|e| format!(": {e}")).unwrap_or_default();
                return Err(format!(
                    "sslrootcert=system ({}) found no CA certificates on this system{why}; install the \
                     ca-certificates package or name a PEM file in sslrootcert",
                    r.from
                ));
            }
            return Ok((Some(store), Some(format!("the system's CA certificates (sslrootcert=system, {})", r.from))));
        }
        Some(r) => (PathBuf::from(&r.value), r.from.clone()),
        None => match opts.default_dir.as_ref().map(|d| d.join("root.crt")).filter(|p| p.exists()) {
            Some(p) => (p, "libpq's default sslrootcert, ~/.postgresql/root.crt".to_owned()),
            None => return Ok((None, None)),
        },
    };
    let certs = read_certs(&path, &from)?;
    let mut store = RootCertStore::empty();
    for cert in certs {
        store.add(cert).map_err(|e| format!("{} ({from}) holds a certificate that cannot be used: {e}", path.display()))?;
    }
    Ok((Some(store), Some(format!("{} ({from})", path.display()))))
}

type ClientCert = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String);

/// `sslcert` and `sslkey`, or libpq's default files when the certificate's exists.
fn load_client_cert(opts: &TlsOptions) -> Result<Option<ClientCert>, String> {
    let default = |name: &str| opts.default_dir.as_ref().map(|d| d.join(name));
    let (cert_path, cert_from) = match &opts.cert {
        Some(c) => (PathBuf::from(&c.value), c.from.clone()),
        None => match default("postgresql.crt").filter(|p| p.exists()) {
            Some(p) => (p, "libpq's default sslcert, ~/.postgresql/postgresql.crt".to_owned()),
            None => {
                if let Some(k) = &opts.key {
                    return Err(format!("sslkey is set ({}) but sslcert is not: set both, or neither", k.from));
                }
                return Ok(None);
            }
        },
    };
    let (key_path, key_from) = match &opts.key {
        Some(k) => (PathBuf::from(&k.value), k.from.clone()),
        None => match default("postgresql.key") {
            Some(p) if p.exists() => (p, "libpq's default sslkey, ~/.postgresql/postgresql.key".to_owned()),
            _ => {
                return Err(format!(
                    "the client certificate {} ({cert_from}) has no private key: set sslkey (postgresql_sslkey)",
                    cert_path.display()
                ))
            }
        },
    };
    let certs = read_certs(&cert_path, &cert_from)?;
    let key = read_key(&key_path, &key_from)?;
    Ok(Some((certs, key, format!("{} and {}", cert_path.display(), key_path.display()))))
}

fn read_file(path: &Path, from: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {} ({from}): {e}", path.display()))
}

/// PEM certificates, or one DER certificate.
fn read_certs(path: &Path, from: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read_file(path, from)?;
    if !bytes.windows(10).any(|w| w == b"-----BEGIN") {
        return Ok(vec![CertificateDer::from(bytes)]);
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{} ({from}) is not a valid PEM file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} ({from}) holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display()));
    }
    Ok(certs)
}

/// A PEM key (PKCS#8, PKCS#1 or SEC1), or a DER PKCS#8 key (pgjdbc's `.pk8`). Encrypted keys are
/// refused with a way out.
fn read_key(path: &Path, from: &str) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = read_file(path, from)?;
    if bytes.windows(19).any(|w| w == b"ENCRYPTED PRIVATE K") || bytes.windows(9).any(|w| w == b"Proc-Type") {
        return Err(format!(
            "{} ({from}) is encrypted, which is not supported (sslpassword); store it decrypted, readable only by \
             Portcullis's user: openssl pkey -in KEY -out KEY.plain",
            path.display()
        ));
    }
    if !bytes.windows(10).any(|w| w == b"-----BEGIN") {
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bytes)));
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| format!("{} ({from}) holds no usable private key: {e}", path.display()))
}

/// libpq's checks of the server's certificate: none, the chain, or the chain and the host name.
#[derive(Debug)]
struct Verifier {
    /// `None`: nothing is checked (encryption only).
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else { return Ok(ServerCertVerified::assertion()) };
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(&cert, roots, intermediates, now, self.algorithms.all)?;
        if self.check_name {
            rustls::client::verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    // The handshake's own signatures are always checked: they prove the server holds the key of the
    // certificate it sent.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// What error messages need to say which setting to change.
#[derive(Debug)]
struct Hints {
    mode: SslMode,
    mode_from: String,
    roots_from: Option<String>,
    client_cert: bool,
}

/// A failed TLS handshake, described for an operator: the problem and the setting to change.
#[derive(Debug)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl Hints {
    fn describe(&self, host: &str, e: &io::Error) -> String {
        let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) else {
            return format!("the TLS handshake failed: {e}");
        };
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        let roots = self.roots_from.as_deref().unwrap_or("the configured CA certificates");
        let mode = format!("sslmode={} ({})", self.mode.name(), self.mode_from);
        match tls {
            E::InvalidCertificate(C::UnknownIssuer) => format!(
                "the server's certificate is not signed by a CA in {roots}; set sslrootcert (postgresql_sslrootcert) \
                 to the CA that signed the server's certificate, or use sslmode=require to encrypt without checking \
                 it (now {mode})"
            ),
            E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => format!(
                "the server's certificate is not valid for the host name '{host}' ({tls}); connect with a host name \
                 the certificate names, or use sslmode=verify-ca to check the CA only (now {mode})"
            ),
            E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
                format!("the server's certificate has expired ({tls}); renew it on the server (checked because of {mode})")
            }
            E::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => format!(
                "the server's certificate is not valid yet ({tls}); check the clocks (checked because of {mode})"
            ),
            E::InvalidCertificate(other) => format!(
                "the server's certificate was refused: {other} (checked against {roots} because of {mode})"
            ),
            E::AlertReceived(A::CertificateRequired | A::HandshakeFailure) if !self.client_cert => format!(
                "the server refused the TLS handshake ({tls}); if it asks for a client certificate, set sslcert and \
                 sslkey (postgresql_sslcert, postgresql_sslkey)"
            ),
            E::AlertReceived(A::UnknownCA | A::BadCertificate | A::CertificateUnknown | A::AccessDenied) => format!(
                "the server refused our client certificate ({tls}); check sslcert and sslkey (postgresql_sslcert, \
                 postgresql_sslkey) and the server's ssl_ca_file"
            ),
            other => format!("the TLS handshake failed: {other} ({mode})"),
        }
    }
}

/// tokio-postgres's TLS hook on rustls. tokio-postgres asks for a connector for every connection,
/// even one that will not use TLS, so problems (TLS disabled, a host name TLS cannot check) surface
/// only when a handshake is really attempted.
#[derive(Clone)]
pub struct MakeRustls {
    config: Option<Arc<ClientConfig>>,
    hints: Arc<Hints>,
    /// Set when a handshake is attempted: whether the server accepted TLS on this connection.
    attempted: Arc<AtomicBool>,
}

impl MakeRustls {
    /// A copy with its own `attempted` flag, for one connection attempt.
    pub fn for_attempt(&self) -> (MakeRustls, Arc<AtomicBool>) {
        let flag = Arc::new(AtomicBool::new(false));
        (MakeRustls { config: self.config.clone(), hints: Arc::clone(&self.hints), attempted: Arc::clone(&flag) }, flag)
    }
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = TlsError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, TlsError> {
        let target = match &self.config {
            None => Err("TLS is disabled (sslmode=disable)".to_owned()),
            Some(config) => ServerName::try_from(domain.to_owned())
                .map(|name| (tokio_rustls::TlsConnector::from(Arc::clone(config)), name))
                .map_err(|_| format!("'{domain}' is not a host name TLS can check")),
        };
        Ok(RustlsConnect {
            target,
            host: domain.to_owned(),
            hints: Arc::clone(&self.hints),
            attempted: Arc::clone(&self.attempted),
        })
    }
}

pub struct RustlsConnect {
    target: Result<(tokio_rustls::TlsConnector, ServerName<'static>), String>,
    host: String,
    hints: Arc<Hints>,
    attempted: Arc<AtomicBool>,
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = TlsError;
    type Future = Pin<Box<dyn Future<Output = Result<RustlsStream, TlsError>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        self.attempted.store(true, Ordering::SeqCst);
        Box::pin(async move {
            let (connector, name) = self.target.map_err(TlsError)?;
            match connector.connect(name, stream).await {
                Ok(s) => Ok(RustlsStream(Box::new(s))),
                Err(e) => Err(TlsError(self.hints.describe(&self.host, &e))),
            }
        })
    }
}

/// An encrypted connection. No channel binding is offered: SCRAM then runs without `-PLUS`, which
/// servers accept (only a client can insist on channel binding).
pub struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl AsyncRead for RustlsStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin<T>(value: T) -> Option<Origin<T>> {
        Some(Origin { value, from: "test".into() })
    }

    #[test]
    fn modes_parse_as_libpq_names_them() {
        for name in SslMode::NAMES.split(", ") {
            assert_eq!(SslMode::parse(name).map(SslMode::name), Some(name));
        }
        assert_eq!(SslMode::parse("VERIFY-FULL"), Some(SslMode::VerifyFull));
        assert_eq!(SslMode::parse("verify_full"), None);
    }

    #[test]
    fn libpq_rules_without_files() {
        let no_home = TlsOptions::default();
        let t = Tls::build(&no_home).unwrap();
        assert_eq!((t.mode, t.verification), (SslMode::Prefer, Verification::None));
        let t = Tls::build(&TlsOptions { mode: origin(SslMode::Require), ..Default::default() }).unwrap();
        assert_eq!((t.mode, t.verification), (SslMode::Require, Verification::None));
        let err = Tls::build(&TlsOptions { mode: origin(SslMode::VerifyFull), ..Default::default() }).unwrap_err();
        assert!(err.contains("sslrootcert") && err.contains("verify-full"), "{err}");
        let err = Tls::build(&TlsOptions {
            mode: origin(SslMode::Require),
            root_cert: origin("system".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("verify-full"), "{err}");
        // pgjdbc's NonValidatingFactory turns checking off, even for verify-full.
        let t = Tls::build(&TlsOptions { mode: origin(SslMode::VerifyFull), non_validating: true, ..Default::default() })
            .unwrap();
        assert_eq!(t.verification, Verification::None);
        let t = Tls::build(&TlsOptions { mode: origin(SslMode::Disable), ..Default::default() }).unwrap();
        assert!(t.config.is_none());
    }

    #[test]
    fn unreadable_files_are_named() {
        let err = Tls::build(&TlsOptions {
            mode: origin(SslMode::Require),
            root_cert: origin("/nonexistent/ca.pem".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("cannot read /nonexistent/ca.pem (test)"), "{err}");
        let err = Tls::build(&TlsOptions { key: origin("/k.pem".into()), ..Default::default() }).unwrap_err();
        assert!(err.contains("sslcert"), "{err}");
    }

    #[test]
    fn the_default_root_file_turns_checking_on() {
        let dir = std::env::temp_dir().join(format!("portcullis-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Not a certificate: reading it must fail loudly rather than skip the check.
        std::fs::write(dir.join("root.crt"), "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
            .unwrap();
        let opts = TlsOptions { mode: origin(SslMode::Require), default_dir: Some(dir.clone()), ..Default::default() };
        let err = Tls::build(&opts).unwrap_err();
        assert!(err.contains("root.crt"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
