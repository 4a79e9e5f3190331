// SPDX-License-Identifier: MIT
//! Link libviommu: `LIBVIOMMU_LIB_DIR` (a directory holding libviommu.so)
//! wins; otherwise the output of `pkg-config --libs libviommu`; otherwise
//! plain `-lviommu` and the linker's default search path.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBVIOMMU_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if let Ok(dir) = env::var("LIBVIOMMU_LIB_DIR") {
        if !dir.is_empty() {
            println!("cargo:rustc-link-search=native={}", dir);
            println!("cargo:rustc-link-lib=dylib=viommu");
            return;
        }
    }
    let out = Command::new("pkg-config").args(["--libs", "libviommu"]).output();
    if let Ok(out) = out {
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut linked = false;
            for tok in text.split_whitespace() {
                if let Some(dir) = tok.strip_prefix("-L") {
                    println!("cargo:rustc-link-search=native={}", dir);
                } else if let Some(lib) = tok.strip_prefix("-l") {
                    println!("cargo:rustc-link-lib={}", lib);
                    linked |= lib == "viommu";
                }
            }
            if linked {
                return;
            }
        }
    }
    println!("cargo:rustc-link-lib=dylib=viommu");
}
