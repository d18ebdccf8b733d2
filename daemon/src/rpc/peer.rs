//! Caller identity from the socket's peer credentials (SO_PEERCRED): uid → user name and
//! group list. Nothing the client sends about who it is is trusted.

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User, getgrouplist};

/// The user name and group names (primary first) of a uid.
pub fn identify(uid: u32, gid: u32) -> (String, Vec<String>) {
    let user = User::from_uid(Uid::from_raw(uid)).ok().flatten();
    let Some(user) = user else {
        // No passwd entry: a name no rule can name except `*`.
        return (format!("#{uid}"), group_name(gid).into_iter().collect());
    };
    let primary = user.gid;
    let mut gids = vec![primary];
    if let Ok(name) = CString::new(user.name.as_bytes())
        && let Ok(list) = getgrouplist(&name, primary)
    {
        for g in list {
            if !gids.contains(&g) {
                gids.push(g);
            }
        }
    }
    let groups = gids
        .into_iter()
        .filter_map(|g| group_name(g.as_raw()))
        .collect();
    (user.name, groups)
}

fn group_name(gid: u32) -> Option<String> {
    Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_root_in_group_root() {
        let (name, groups) = identify(0, 0);
        assert_eq!(name, "root");
        assert_eq!(groups.first().map(String::as_str), Some("root"));
    }

    #[test]
    fn unknown_uid_gets_a_name_no_rule_matches() {
        let (name, _) = identify(4_000_000_000, 4_000_000_000);
        assert_eq!(name, "#4000000000");
    }
}
