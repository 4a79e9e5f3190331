// SPDX-License-Identifier: MIT
//! Drift check: the -sys crate's struct layouts equal the C ones. The test
//! suite writes the C layout (sizes and offsets printed by a C program) to
//! the file named by VIOMMU_C_LAYOUT; without it this test only checks that
//! every struct has a non-zero size.
use libviommu_sys::layout::structs;
use std::collections::HashMap;

#[test]
fn struct_layouts_match_c() {
    let mut c: HashMap<String, usize> = HashMap::new();
    let path = std::env::var("VIOMMU_C_LAYOUT").unwrap_or_default();
    if !path.is_empty() && std::path::Path::new(&path).exists() {
        let text = std::fs::read_to_string(&path).expect("C layout file");
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() == 3 && (w[0] == "size" || w[0] == "offset") {
                c.insert(format!("{} {}", w[0], w[1]), w[2].parse().unwrap());
            }
        }
    }
    let mut bad = Vec::new();
    for (name, size, fields) in structs() {
        assert!(size > 0);
        if c.is_empty() {
            continue;
        }
        match c.get(&format!("size {}", name)) {
            Some(&cs) if cs == size => {}
            other => bad.push(format!("{}: rust size {} vs C {:?}", name, size, other)),
        }
        for (f, off) in fields {
            match c.get(&format!("offset {}.{}", name, f)) {
                Some(&co) if co == off => {}
                other => bad.push(format!("{}.{}: rust offset {} vs C {:?}", name, f, off, other)),
            }
        }
    }
    assert!(bad.is_empty(), "layout drift:\n{}", bad.join("\n"));
}
