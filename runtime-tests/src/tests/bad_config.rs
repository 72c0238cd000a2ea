//! Bad configs must be refused (create exits non-zero) and leave nothing behind: the spec's own
//! `schema/test/config/bad/` files (merged onto a good config, so only their defect differs) and
//! mutations of a good config — wrong types, missing required fields, invalid values.

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

type Mutate = fn(&mut Value);

/// (id without `bad_config.`, whether config-schema.json itself rejects it, the mutation)
pub const MUTATIONS: &[(&str, bool, Mutate)] = &[
    // wrong types
    ("wrong_type_oci_version", true, |s| {
        s["ociVersion"] = json!(1)
    }),
    ("wrong_type_process_args", true, |s| {
        s["process"]["args"] = json!("/bin/probe report")
    }),
    ("wrong_type_process_env", true, |s| {
        s["process"]["env"] = json!("A=b")
    }),
    ("wrong_type_process_cwd", true, |s| {
        s["process"]["cwd"] = json!(7)
    }),
    ("wrong_type_process_terminal", true, |s| {
        s["process"]["terminal"] = json!("no")
    }),
    ("wrong_type_user_uid", true, |s| {
        s["process"]["user"]["uid"] = json!("0")
    }),
    ("wrong_type_user_umask", true, |s| {
        s["process"]["user"]["umask"] = json!("022")
    }),
    ("wrong_type_root_path", true, |s| {
        s["root"]["path"] = json!(1)
    }),
    ("wrong_type_root_readonly", true, |s| {
        s["root"]["readonly"] = json!("true")
    }),
    ("wrong_type_mounts", true, |s| {
        s["mounts"] = json!({"destination": "/x"})
    }),
    ("wrong_type_mount_options", true, |s| {
        s["mounts"][0]["options"] = json!("ro")
    }),
    ("wrong_type_hostname", true, |s| s["hostname"] = json!(42)),
    ("wrong_type_namespaces", true, |s| {
        s["linux"]["namespaces"] = json!({"type": "pid"})
    }),
    ("wrong_type_memory_limit", true, |s| {
        s["linux"]["resources"]["memory"] = json!({"limit": "1G"})
    }),
    ("wrong_type_pids_limit", true, |s| {
        s["linux"]["resources"]["pids"] = json!({"limit": "10"})
    }),
    ("wrong_type_rlimit_soft", true, |s| {
        s["process"]["rlimits"][0]["soft"] = json!("1024")
    }),
    ("wrong_type_capabilities", true, |s| {
        s["process"]["capabilities"]["bounding"] = json!("CAP_KILL")
    }),
    ("wrong_type_annotations", true, |s| {
        s["annotations"] = json!(["a=b"])
    }),
    ("wrong_type_sysctl_value", true, |s| {
        s["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": 1})
    }),
    ("wrong_type_hooks", true, |s| {
        s["hooks"] = json!([{"path": "/bin/true"}])
    }),
    ("wrong_type_uid_mappings", true, |s| {
        spec::add_ns(s, "user", None);
        s["linux"]["uidMappings"] = json!({"containerID": 0, "hostID": 100000, "size": 1});
    }),
    ("wrong_type_devices", true, |s| {
        s["linux"]["devices"] = json!({"path": "/dev/x"})
    }),
    // missing required fields
    ("missing_oci_version", true, |s| {
        spec::remove(s, "/ociVersion")
    }),
    ("missing_root_path", true, |s| spec::remove(s, "/root/path")),
    ("missing_process_cwd", true, |s| {
        spec::remove(s, "/process/cwd")
    }),
    ("missing_user_uid", false, |s| {
        spec::remove(s, "/process/user/uid")
    }),
    ("missing_mount_destination", true, |s| {
        spec::remove(s, "/mounts/0/destination")
    }),
    ("missing_namespace_type", true, |s| {
        s["linux"]["namespaces"] = json!([{"path": "/proc/1/ns/net"}])
    }),
    ("missing_device_path", true, |s| {
        s["linux"]["devices"] = json!([{"type": "c", "major": 1, "minor": 3}])
    }),
    ("missing_device_type", true, |s| {
        s["linux"]["devices"] = json!([{"path": "/dev/x", "major": 1, "minor": 3}])
    }),
    ("missing_rlimit_type", true, |s| {
        s["process"]["rlimits"] = json!([{"soft": 1, "hard": 1}])
    }),
    ("missing_hook_path", true, |s| {
        s["hooks"] = json!({"createRuntime": [{"args": ["true"]}]})
    }),
    ("missing_seccomp_default_action", true, |s| {
        s["linux"]["seccomp"] =
            json!({"syscalls": [{"names": ["sysinfo"], "action": "SCMP_ACT_ERRNO"}]})
    }),
    ("missing_idmapping_size", true, |s| {
        spec::add_ns(s, "user", None);
        s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000}]);
        s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000}]);
    }),
    ("missing_device_rule_allow", true, |s| {
        s["linux"]["resources"]["devices"] = json!([{"access": "rwm"}])
    }),
    ("missing_seccomp_syscall_names", true, |s| {
        s["linux"]["seccomp"] =
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]})
    }),
    // invalid values
    ("empty_process_args", false, |s| {
        s["process"]["args"] = json!([])
    }),
    ("relative_cwd", false, |s| {
        s["process"]["cwd"] = json!("tmp")
    }),
    (
        "relative_hook_path",
        false,
        |s| s["hooks"] = json!({"createRuntime": [{"path": "bin/busybox", "args": ["true"]}]}),
    ),
    (
        "hook_timeout_zero",
        true,
        |s| s["hooks"] = json!({"createRuntime": [{"path": "/bin/busybox", "args": ["busybox", "true"], "timeout": 0}]}),
    ),
    ("unknown_namespace_type", true, |s| {
        spec::push(s, "/linux/namespaces", json!({"type": "nosuchns"}))
    }),
    ("invalid_rootfs_propagation", true, |s| {
        s["linux"]["rootfsPropagation"] = json!("sideways")
    }),
    (
        "invalid_device_type",
        true,
        |s| {
            s["linux"]["devices"] = json!([{"path": "/dev/x", "type": "x", "major": 1, "minor": 3}])
        },
    ),
    ("invalid_device_rule_access", false, |s| {
        s["linux"]["resources"]["devices"] = json!([{"allow": true, "access": "xyz"}])
    }),
    ("negative_uid", true, |s| {
        s["process"]["user"]["uid"] = json!(-1)
    }),
    ("oci_version_not_semver", false, |s| {
        s["ociVersion"] = json!("one point oh")
    }),
    ("hugepage_size_unknown", false, |s| {
        s["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "3MB", "limit": 1048576}])
    }),
    ("scheduler_unknown_policy", true, |s| {
        s["process"]["scheduler"] = json!({"policy": "SCHED_NOPE"})
    }),
    ("io_priority_unknown_class", true, |s| {
        s["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_NOPE", "priority": 1})
    }),
    ("personality_unknown_domain", true, |s| {
        s["linux"]["personality"] = json!({"domain": "WINDOWS"})
    }),
    ("memory_policy_unknown_mode", true, |s| {
        s["linux"]["memoryPolicy"] = json!({"mode": "MPOL_NOPE"})
    }),
    ("time_offsets_without_time_ns", false, |s| {
        s["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 10}})
    }),
    ("uid_mappings_without_user_ns", false, |s| {
        s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    }),
    ("cgroups_memory_below_minimum", false, |s| {
        s["linux"]["resources"]["memory"] = json!({"limit": 4096})
    }),
];

pub const TESTS: &[Test] = &[
    test!("bad_config.spec_invalid_json", [Root], |c| spec_file(
        c,
        "invalid-json.json"
    )),
    test!("bad_config.spec_linux_hugepage", [Root], |c| spec_file(
        c,
        "linux-hugepage.json"
    )),
    test!("bad_config.spec_linux_netdevice", [Root], |c| spec_file(
        c,
        "linux-netdevice.json"
    )),
    test!("bad_config.spec_linux_rdma", [Root], |c| spec_file(
        c,
        "linux-rdma.json"
    )),
    test!("bad_config.wrong_type_oci_version", [Root], |c| mutated(
        c,
        "wrong_type_oci_version"
    )),
    test!("bad_config.wrong_type_process_args", [Root], |c| mutated(
        c,
        "wrong_type_process_args"
    )),
    test!("bad_config.wrong_type_process_env", [Root], |c| mutated(
        c,
        "wrong_type_process_env"
    )),
    test!("bad_config.wrong_type_process_cwd", [Root], |c| mutated(
        c,
        "wrong_type_process_cwd"
    )),
    test!("bad_config.wrong_type_process_terminal", [Root], |c| {
        mutated(c, "wrong_type_process_terminal")
    }),
    test!("bad_config.wrong_type_user_uid", [Root], |c| mutated(
        c,
        "wrong_type_user_uid"
    )),
    test!("bad_config.wrong_type_user_umask", [Root], |c| mutated(
        c,
        "wrong_type_user_umask"
    )),
    test!("bad_config.wrong_type_root_path", [Root], |c| mutated(
        c,
        "wrong_type_root_path"
    )),
    test!("bad_config.wrong_type_root_readonly", [Root], |c| mutated(
        c,
        "wrong_type_root_readonly"
    )),
    test!("bad_config.wrong_type_mounts", [Root], |c| mutated(
        c,
        "wrong_type_mounts"
    )),
    test!("bad_config.wrong_type_mount_options", [Root], |c| mutated(
        c,
        "wrong_type_mount_options"
    )),
    test!("bad_config.wrong_type_hostname", [Root], |c| mutated(
        c,
        "wrong_type_hostname"
    )),
    test!("bad_config.wrong_type_namespaces", [Root], |c| mutated(
        c,
        "wrong_type_namespaces"
    )),
    test!("bad_config.wrong_type_memory_limit", [Root], |c| mutated(
        c,
        "wrong_type_memory_limit"
    )),
    test!("bad_config.wrong_type_pids_limit", [Root], |c| mutated(
        c,
        "wrong_type_pids_limit"
    )),
    test!("bad_config.wrong_type_rlimit_soft", [Root], |c| mutated(
        c,
        "wrong_type_rlimit_soft"
    )),
    test!("bad_config.wrong_type_capabilities", [Root], |c| mutated(
        c,
        "wrong_type_capabilities"
    )),
    test!("bad_config.wrong_type_annotations", [Root], |c| mutated(
        c,
        "wrong_type_annotations"
    )),
    test!("bad_config.wrong_type_sysctl_value", [Root], |c| mutated(
        c,
        "wrong_type_sysctl_value"
    )),
    test!("bad_config.wrong_type_hooks", [Root], |c| mutated(
        c,
        "wrong_type_hooks"
    )),
    test!("bad_config.wrong_type_uid_mappings", [Root, UserNs], |c| {
        mutated(c, "wrong_type_uid_mappings")
    }),
    test!("bad_config.wrong_type_devices", [Root], |c| mutated(
        c,
        "wrong_type_devices"
    )),
    test!("bad_config.missing_oci_version", [Root], |c| mutated(
        c,
        "missing_oci_version"
    )),
    test!("bad_config.missing_root_path", [Root], |c| mutated(
        c,
        "missing_root_path"
    )),
    test!("bad_config.missing_process_cwd", [Root], |c| mutated(
        c,
        "missing_process_cwd"
    )),
    test!("bad_config.missing_user_uid", [Root], |c| mutated(
        c,
        "missing_user_uid"
    )),
    test!("bad_config.missing_mount_destination", [Root], |c| mutated(
        c,
        "missing_mount_destination"
    )),
    test!("bad_config.missing_namespace_type", [Root], |c| mutated(
        c,
        "missing_namespace_type"
    )),
    test!("bad_config.missing_device_path", [Root], |c| mutated(
        c,
        "missing_device_path"
    )),
    test!("bad_config.missing_device_type", [Root], |c| mutated(
        c,
        "missing_device_type"
    )),
    test!("bad_config.missing_rlimit_type", [Root], |c| mutated(
        c,
        "missing_rlimit_type"
    )),
    test!("bad_config.missing_hook_path", [Root], |c| mutated(
        c,
        "missing_hook_path"
    )),
    test!(
        "bad_config.missing_seccomp_default_action",
        [Root, Seccomp],
        |c| mutated(c, "missing_seccomp_default_action")
    ),
    test!("bad_config.missing_idmapping_size", [Root, UserNs], |c| {
        mutated(c, "missing_idmapping_size")
    }),
    test!("bad_config.missing_device_rule_allow", [Root], |c| mutated(
        c,
        "missing_device_rule_allow"
    )),
    test!(
        "bad_config.missing_seccomp_syscall_names",
        [Root, Seccomp],
        |c| mutated(c, "missing_seccomp_syscall_names")
    ),
    test!("bad_config.empty_process_args", [Root], |c| mutated(
        c,
        "empty_process_args"
    )),
    test!("bad_config.relative_cwd", [Root], |c| mutated(
        c,
        "relative_cwd"
    )),
    test!("bad_config.relative_hook_path", [Root], |c| mutated(
        c,
        "relative_hook_path"
    )),
    test!("bad_config.hook_timeout_zero", [Root], |c| mutated(
        c,
        "hook_timeout_zero"
    )),
    test!("bad_config.unknown_namespace_type", [Root], |c| mutated(
        c,
        "unknown_namespace_type"
    )),
    test!(
        "bad_config.invalid_rootfs_propagation",
        [Root],
        |c| mutated(c, "invalid_rootfs_propagation")
    ),
    test!("bad_config.invalid_device_type", [Root], |c| mutated(
        c,
        "invalid_device_type"
    )),
    test!(
        "bad_config.invalid_device_rule_access",
        [Root],
        |c| mutated(c, "invalid_device_rule_access")
    ),
    test!("bad_config.negative_uid", [Root], |c| mutated(
        c,
        "negative_uid"
    )),
    test!("bad_config.oci_version_not_semver", [Root], |c| mutated(
        c,
        "oci_version_not_semver"
    )),
    test!("bad_config.hugepage_size_unknown", [Root], |c| mutated(
        c,
        "hugepage_size_unknown"
    )),
    test!("bad_config.scheduler_unknown_policy", [Root], |c| mutated(
        c,
        "scheduler_unknown_policy"
    )),
    test!("bad_config.io_priority_unknown_class", [Root], |c| mutated(
        c,
        "io_priority_unknown_class"
    )),
    test!(
        "bad_config.personality_unknown_domain",
        [Root],
        |c| mutated(c, "personality_unknown_domain")
    ),
    test!(
        "bad_config.memory_policy_unknown_mode",
        [Root],
        |c| mutated(c, "memory_policy_unknown_mode")
    ),
    test!(
        "bad_config.time_offsets_without_time_ns",
        [Root, TimeNs],
        |c| mutated(c, "time_offsets_without_time_ns")
    ),
    test!("bad_config.uid_mappings_without_user_ns", [Root], |c| {
        mutated(c, "uid_mappings_without_user_ns")
    }),
    test!("bad_config.cgroups_memory_below_minimum", [Root], |c| {
        mutated(c, "cgroups_memory_below_minimum")
    }),
];

fn mutation(id: &str) -> Result<Mutate> {
    MUTATIONS
        .iter()
        .find(|m| m.0 == id)
        .map(|m| m.2)
        .ok_or_else(|| anyhow!("no mutation {id}"))
}

fn mutated(ctx: &Ctx, id: &str) -> Result<()> {
    let mut s = ctx.spec(&[]);
    mutation(id)?(&mut s);
    expect_create_fails(ctx, &s)
}

fn spec_file(ctx: &Ctx, name: &str) -> Result<()> {
    let p = ctx.spec_dir.join("schema/test/config/bad").join(name);
    let raw = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
    match serde_json::from_slice::<Value>(&raw) {
        Err(_) => {
            let b = ctx.raw_bundle(&raw)?;
            expect_bundle_refused(ctx, &b)
        }
        Ok(bad) => {
            // Keep a runnable process and root: only the file's defect differs.
            let mut s = ctx.spec(&[]);
            spec::merge(&mut s, &bad);
            expect_create_fails(ctx, &s)
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn every_mutation_has_a_test_and_back() {
        for (id, _, _) in MUTATIONS {
            let full = format!("bad_config.{id}");
            assert!(TESTS.iter().any(|t| t.id == full), "no test for {id}");
        }
        for t in TESTS
            .iter()
            .filter(|t| !t.id.starts_with("bad_config.spec_"))
        {
            let id = t.id.trim_start_matches("bad_config.");
            assert!(
                MUTATIONS.iter().any(|m| m.0 == id),
                "no mutation for {}",
                t.id
            );
        }
    }

    #[test]
    fn schema_invalid_mutations_fail_the_schema() {
        let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let Some(spec_dir) = d
            .ancestors()
            .flat_map(|a| {
                [
                    a.join("shared/runtime-spec"),
                    a.join("../shared/runtime-spec"),
                ]
            })
            .find(|c| c.join("schema/config-schema.json").exists())
        else {
            return;
        };
        let mut wrong = Vec::new();
        for (id, invalid, m) in MUTATIONS {
            let mut s = spec::base(&[]);
            m(&mut s);
            let errs =
                crate::driver::schema::validate(&spec_dir, "config-schema.json", &s).unwrap();
            if *invalid == errs.is_empty() {
                wrong.push(*id);
            }
        }
        assert!(
            wrong.is_empty(),
            "schema verdict differs from the table for {wrong:?}"
        );
    }
}
