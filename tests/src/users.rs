//! Real Unix users and groups for a test, removed when dropped.

use std::process::Command;

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Unix group.
pub struct Group {
    /// Its name.
    pub name: String,
}

impl Group {
    /// Creates a group `jt<random><suffix>`.
    pub fn create(suffix: &str) -> Group {
        let name = format!("jt{}{suffix}", crate::unique());
        run("groupadd", &[&name]);
        Group { name }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("groupdel").arg(&self.name).output();
    }
}

/// A Unix user with no home directory.
pub struct User {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

impl User {
    /// Creates a user `jt<random><suffix>` in `groups` (supplementary).
    pub fn create(suffix: &str, groups: &[&Group]) -> User {
        let name = format!("jt{}{suffix}", crate::unique());
        let list: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        let mut args = vec!["-M", "-N", "-g", "nogroup", "-s", "/usr/sbin/nologin"];
        let joined = list.join(",");
        if !list.is_empty() {
            args.push("-G");
            args.push(&joined);
        }
        args.push(&name);
        run("useradd", &args);
        let u = nix::unistd::User::from_name(&name)
            .expect("getpwnam")
            .expect("user exists");
        User {
            name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        }
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}
