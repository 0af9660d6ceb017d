//! Authentication and TLS against real nats-server processes, one configured for each
//! way in: user and password, token, NKey, a credentials file (operator mode with
//! JWTs), and TLS with a CA of the test's own, a client certificate and a server name.
//! Each connects with the right credentials (and does JetStream work: the stream is
//! made on connect), is refused without them or with wrong ones, and no refusal
//! repeats the secret.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roundtable_nats::{NatsAuth, NatsConfig, NatsTls, Secret};
use roundtable_store::StoreError;
use roundtable_testkit::NatsServer;

fn config(auth: NatsAuth, tls: NatsTls) -> NatsConfig {
    NatsConfig {
        auth,
        tls,
        connect_timeout: Duration::from_secs(3),
        ..NatsConfig::default()
    }
}

async fn connects(server: &NatsServer, auth: NatsAuth, tls: NatsTls) -> Result<(), StoreError> {
    let ports = roundtable_nats::connect(&server.url(), config(auth, tls)).await?;
    let probe = roundtable_domain::NegotiationId::new("auth-probe").unwrap();
    assert_eq!(ports.events.last_version(&probe).await?, 0);
    ports
        .connection
        .check()
        .await
        .map_err(StoreError::unavailable)?;
    ports.connection.close().await;
    Ok(())
}

fn refused(result: Result<(), StoreError>, secret: &str) -> String {
    let message = result
        .expect_err("the connection should be refused")
        .to_string();
    assert!(secret.is_empty() || !message.contains(secret), "{message}");
    message
}

#[tokio::test]
async fn user_and_password() {
    let password = "pa55-w0rd-of-the-test";
    let server = NatsServer::start_with_config(&format!(
        "authorization {{ users = [ {{ user: roundtable, password: \"{password}\" }} ] }}"
    ))
    .await
    .unwrap();
    let user = |password: &str| NatsAuth::UserPassword {
        user: "roundtable".into(),
        password: Secret::new(password),
    };
    connects(&server, user(password), NatsTls::default())
        .await
        .unwrap();
    refused(
        connects(&server, user("wrong-pa55"), NatsTls::default()).await,
        "wrong-pa55",
    );
    refused(
        connects(&server, NatsAuth::None, NatsTls::default()).await,
        password,
    );
}

#[tokio::test]
async fn token() {
    let token = "t0ken-of-the-test-0123456789";
    let server = NatsServer::start_with_config(&format!("authorization {{ token: \"{token}\" }}"))
        .await
        .unwrap();
    connects(
        &server,
        NatsAuth::Token(Secret::new(token)),
        NatsTls::default(),
    )
    .await
    .unwrap();
    refused(
        connects(
            &server,
            NatsAuth::Token(Secret::new("not-the-t0ken")),
            NatsTls::default(),
        )
        .await,
        "not-the-t0ken",
    );
    refused(
        connects(&server, NatsAuth::None, NatsTls::default()).await,
        token,
    );
}

#[tokio::test]
async fn nkey_seed() {
    let user = nkeys::KeyPair::new_user();
    let other = nkeys::KeyPair::new_user();
    let server = NatsServer::start_with_config(&format!(
        "authorization {{ users = [ {{ nkey: {} }} ] }}",
        user.public_key()
    ))
    .await
    .unwrap();
    let seed = user.seed().unwrap();
    connects(
        &server,
        NatsAuth::NKeySeed(Secret::new(&seed)),
        NatsTls::default(),
    )
    .await
    .unwrap();
    let wrong = other.seed().unwrap();
    refused(
        connects(
            &server,
            NatsAuth::NKeySeed(Secret::new(&wrong)),
            NatsTls::default(),
        )
        .await,
        &wrong,
    );
    refused(
        connects(&server, NatsAuth::None, NatsTls::default()).await,
        &seed,
    );
}

/// A NATS JWT (`ed25519-nkey`) of `claims`, signed by `signer`.
fn jwt(claims: serde_json::Value, signer: &nkeys::KeyPair) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = signer.sign(format!("{header}.{body}").as_bytes()).unwrap();
    format!("{header}.{body}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Operator mode: an operator, an account with JetStream, and a user of it in a
/// credentials file, as nsc makes them.
#[tokio::test]
async fn credentials_file() {
    let operator = nkeys::KeyPair::new_operator();
    let system = nkeys::KeyPair::new_account();
    let account = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let operator_jwt = jwt(
        serde_json::json!({
            "jti": "OPERATORJTI", "iat": now(), "iss": operator.public_key(),
            "name": "test-operator", "sub": operator.public_key(),
            "nats": {"type": "operator", "version": 2}
        }),
        &operator,
    );
    let account_jwt = jwt(
        serde_json::json!({
            "jti": "ACCOUNTJTI", "iat": now(), "iss": operator.public_key(),
            "name": "roundtable", "sub": account.public_key(),
            "nats": {
                "limits": {
                    "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                    "wildcards": true, "conn": -1, "leaf": -1,
                    "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1
                },
                "default_permissions": {"pub": {}, "sub": {}},
                "type": "account", "version": 2
            }
        }),
        &operator,
    );
    let system_jwt = jwt(
        serde_json::json!({
            "jti": "SYSTEMJTI", "iat": now(), "iss": operator.public_key(),
            "name": "SYS", "sub": system.public_key(),
            "nats": {"limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1,
                                "exports": -1, "wildcards": true, "conn": -1, "leaf": -1},
                     "type": "account", "version": 2}
        }),
        &operator,
    );
    let user_jwt = jwt(
        serde_json::json!({
            "jti": "USERJTI", "iat": now(), "iss": account.public_key(),
            "name": "roundtable", "sub": user.public_key(),
            "nats": {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                     "type": "user", "version": 2}
        }),
        &account,
    );
    let server = NatsServer::start_with_config(&format!(
        "operator: \"{operator_jwt}\"\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n  {}: \"{account_jwt}\"\n  {}: \"{system_jwt}\"\n}}\n",
        system.public_key(),
        account.public_key(),
        system.public_key()
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("roundtable.creds");
    let seed = user.seed().unwrap();
    std::fs::write(
        &creds,
        format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
        ),
    )
    .unwrap();
    connects(
        &server,
        NatsAuth::CredentialsFile(creds),
        NatsTls::default(),
    )
    .await
    .unwrap();
    refused(
        connects(&server, NatsAuth::None, NatsTls::default()).await,
        &seed,
    );
    let missing = dir.path().join("missing.creds");
    let message = refused(
        connects(
            &server,
            NatsAuth::CredentialsFile(missing),
            NatsTls::default(),
        )
        .await,
        &seed,
    );
    assert!(message.contains("missing.creds"), "{message}");
}

/// A CA, a server certificate for `nats.test` only, and a client certificate, all
/// made here; the server verifies clients.
struct Pki {
    ca: std::path::PathBuf,
    server_cert: std::path::PathBuf,
    server_key: std::path::PathBuf,
    client_cert: std::path::PathBuf,
    client_key: std::path::PathBuf,
}

fn pki(dir: &Path) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["nats.test".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert = CertificateParams::new(vec!["roundtable-client".to_owned()])
        .unwrap()
        .signed_by(&client_key, &issuer)
        .unwrap();
    Pki {
        ca: write("ca.pem", ca_cert.pem()),
        server_cert: write("server.pem", server_cert.pem()),
        server_key: write("server-key.pem", server_key.serialize_pem()),
        client_cert: write("client.pem", client_cert.pem()),
        client_key: write("client-key.pem", client_key.serialize_pem()),
    }
}

#[tokio::test]
async fn tls_with_a_ca_a_client_certificate_and_a_server_name() {
    let dir = tempfile::tempdir().unwrap();
    let ours = pki(dir.path());
    let quoted = |p: &Path| serde_json::Value::String(p.display().to_string()).to_string();
    let server = NatsServer::start_with_config(&format!(
        "tls {{\n  cert_file: {}\n  key_file: {}\n  ca_file: {}\n  verify: true\n  timeout: 2\n}}\n",
        quoted(&ours.server_cert),
        quoted(&ours.server_key),
        quoted(&ours.ca)
    ))
    .await
    .unwrap();
    let full = NatsTls {
        required: true,
        ca_file: Some(ours.ca.clone()),
        client_cert: Some(ours.client_cert.clone()),
        client_key: Some(ours.client_key.clone()),
        server_name: Some("nats.test".into()),
    };
    connects(&server, NatsAuth::None, full.clone())
        .await
        .unwrap();
    // The certificate names nats.test, not the address connected to.
    let m = refused(
        connects(
            &server,
            NatsAuth::None,
            NatsTls {
                server_name: None,
                ..full.clone()
            },
        )
        .await,
        "",
    );
    assert!(!m.is_empty());
    // The server verifies clients.
    refused(
        connects(
            &server,
            NatsAuth::None,
            NatsTls {
                client_cert: None,
                client_key: None,
                ..full.clone()
            },
        )
        .await,
        "",
    );
    // Another CA does not vouch for the server.
    let other = tempfile::tempdir().unwrap();
    let other = pki(other.path());
    refused(
        connects(
            &server,
            NatsAuth::None,
            NatsTls {
                ca_file: Some(other.ca),
                ..full.clone()
            },
        )
        .await,
        "",
    );
    // Without TLS at all the server refuses the client.
    refused(
        connects(&server, NatsAuth::None, NatsTls::default()).await,
        "",
    );
}
