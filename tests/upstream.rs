//! The pinned Gateway API CRDs: the module zip the Go module proxy serves matches the pinned go.sum hash, and tampering is refused.

use std::path::PathBuf;
use std::process::Command;

use tacos::upstream::{GATEWAY_API, files_from_module_zip, module_zip_h1};

/// The zip `go mod download` left in the module cache (testenv/install.sh fetches it).
fn gateway_api_zip() -> Vec<u8> {
    let output = Command::new("go")
        .args(["env", "GOMODCACHE"])
        .output()
        .expect("go is installed (testenv/install.sh needs it)");
    let cache = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let zip = cache.join(format!(
        "cache/download/{}/@v/{}.zip",
        GATEWAY_API.module, GATEWAY_API.version
    ));
    std::fs::read(&zip).unwrap_or_else(|e| panic!("{}: {e}; run testenv/install.sh", zip.display()))
}

#[test]
fn module_zip_hash_is_the_pinned_go_sum_hash() {
    assert_eq!(module_zip_h1(&gateway_api_zip()).unwrap(), GATEWAY_API.h1);
}

#[test]
fn standard_channel_crds_come_out_of_the_verified_zip() {
    let files = files_from_module_zip(&gateway_api_zip(), &GATEWAY_API).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    for kind in [
        "gateways",
        "gatewayclasses",
        "httproutes",
        "grpcroutes",
        "referencegrants",
    ] {
        assert!(
            names.contains(&format!("gateway.networking.k8s.io_{kind}.yaml")),
            "{names:?}"
        );
    }
}

#[test]
fn a_tampered_zip_is_refused() {
    let mut pinned = GATEWAY_API;
    pinned.h1 = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let error = files_from_module_zip(&gateway_api_zip(), &pinned)
        .unwrap_err()
        .to_string();
    assert!(error.contains("does not match its pinned hash"), "{error}");
}
