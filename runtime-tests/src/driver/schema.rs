//! JSON-schema checks against the spec's own schemas (features, state, config).

use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::path::Path;

/// Reads a schema file, fixing the one malformed reference of runtime-spec v1.3.0
/// (`defs.json` has `"$ref": "#definitions/uint32"`, which is not a JSON pointer).
fn load(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let text = text.replace("\"#definitions/", "\"#/definitions/");
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Resolves the schemas' relative `$ref`s to the files beside them.
struct FileRetriever;

impl jsonschema::Retrieve for FileRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> std::result::Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let s = uri.as_str();
        let p = s
            .strip_prefix("file://")
            .ok_or_else(|| format!("not a file URI: {s}"))?;
        let p = p.split('#').next().unwrap_or(p);
        load(Path::new(p)).map_err(|e| format!("{e:#}").into())
    }
}

/// Validates `v` against `<spec_dir>/schema/<name>`; returns the error messages (empty = valid).
pub fn validate(spec_dir: &Path, name: &str, v: &Value) -> Result<Vec<String>> {
    let path = spec_dir.join("schema").join(name);
    let path = path
        .canonicalize()
        .with_context(|| format!("schema {}", path.display()))?;
    let schema = load(&path)?;
    let validator = jsonschema::options()
        .with_retriever(FileRetriever)
        .with_base_uri(format!("file://{}", path.display()))
        .build(&schema)
        .map_err(|e| anyhow!("compiling {}: {e}", path.display()))?;
    Ok(validator
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::spec;

    fn spec_dir() -> Option<std::path::PathBuf> {
        let d = Path::new(env!("CARGO_MANIFEST_DIR"));
        d.ancestors()
            .flat_map(|a| {
                [
                    a.join("shared/runtime-spec"),
                    a.join("../shared/runtime-spec"),
                ]
            })
            .find(|c| c.join("schema/config-schema.json").exists())
    }

    #[test]
    fn base_config_is_schema_valid() {
        let Some(d) = spec_dir() else { return };
        let errs = validate(&d, "config-schema.json", &spec::base(&["--wait"])).unwrap();
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn schema_catches_a_wrong_type() {
        let Some(d) = spec_dir() else { return };
        let mut v = spec::base(&[]);
        v["process"]["args"] = serde_json::json!("not-an-array");
        assert!(!validate(&d, "config-schema.json", &v).unwrap().is_empty());
    }

    #[test]
    fn spec_examples_validate() {
        let Some(d) = spec_dir() else { return };
        for (schema, example, good) in [
            ("features-schema.json", "test/features/good/runc.json", true),
            (
                "features-schema.json",
                "test/features/bad/missing-ociVersionMax.json",
                false,
            ),
            (
                "state-schema.json",
                "test/state/good/spec-example.json",
                true,
            ),
        ] {
            let v: Value =
                serde_json::from_slice(&std::fs::read(d.join("schema").join(example)).unwrap())
                    .unwrap();
            let errs = validate(&d, schema, &v).unwrap();
            assert_eq!(errs.is_empty(), good, "{example}: {errs:?}");
        }
    }
}
