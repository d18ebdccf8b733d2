//! Who the caller is, and which access flow (if any) lets them request something.

use jit_config::{Approval, Config, Flow, Justification, Principal, pattern_matches};

/// A caller, identified by the socket's peer credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Numeric uid.
    pub uid: u32,
    /// User name (`#1234` when the uid has no passwd entry).
    pub user: String,
    /// Group names, primary first.
    pub groups: Vec<String>,
    /// Whether the caller is a jit admin.
    pub admin: bool,
    /// The connected process's pid (0 when unknown), from the peer credentials.
    pub pid: u32,
}

impl Caller {
    /// Whether the caller matches a principal rule.
    pub fn matches(&self, p: &Principal) -> bool {
        p.matches(&self.user, &self.groups)
    }

    /// Whether the caller matches any of the rules.
    pub fn matches_any(&self, rules: &[Principal]) -> bool {
        rules.iter().any(|p| self.matches(p))
    }

    /// The daemon itself, as the actor of scheduled transitions.
    pub fn daemon() -> Caller {
        Caller {
            uid: 0,
            user: "jitd".into(),
            groups: Vec::new(),
            admin: true,
            pid: 0,
        }
    }
}

/// Parses a principal rule as written in a flow (`alice`, `%dev`, `*`).
pub fn parse_principal(s: &str) -> Principal {
    if s == "*" {
        Principal::Anyone
    } else if let Some(g) = s.strip_prefix('%') {
        Principal::Group(g.to_owned())
    } else {
        Principal::User(s.to_owned())
    }
}

/// What is asked for: an integration's resources, or a bundle.
#[derive(Debug, Clone)]
pub enum Target<'a> {
    /// Resources of one type on one integration.
    Integration {
        /// Integration name.
        integration: &'a str,
        /// Resource type.
        resource_type: &'a str,
        /// Resources.
        resources: &'a [String],
        /// Permissions.
        permissions: &'a [String],
    },
    /// A configured bundle.
    Bundle(&'a str),
}

/// What is being asked for, after names were checked against the catalog.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    /// The integration's resources, or a bundle.
    pub target: Target<'a>,
    /// Requested duration, if any.
    pub duration_secs: Option<u64>,
    /// Justification, if any.
    pub justification: Option<&'a str>,
}

/// Why one flow did not allow a request; the order is how far the request got.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Refusal {
    Requester,
    Integration,
    ResourceType(String),
    Resource(String),
    Permission(String),
    Duration(u64, u64),
    Justification(String),
}

/// Why no flow allowed a request.
#[derive(Debug, Clone)]
pub struct NoFlow {
    /// The message, naming the closest flow and the rule that refused.
    pub message: String,
    /// True when the closest flow refused a value (duration, justification) rather than
    /// the request itself: the caller can fix it by changing that value.
    pub bad_value: bool,
}

/// Finds the first flow that allows the whole request, or explains why none does.
pub fn match_flow<'c>(
    config: &'c Config,
    caller: &Caller,
    ask: &Ask<'_>,
) -> Result<&'c Flow, NoFlow> {
    let mut closest: Option<(&Flow, Refusal)> = None;
    for flow in &config.flows {
        match check(flow, caller, ask) {
            Ok(()) => return Ok(flow),
            Err(r) => {
                if closest.as_ref().is_none_or(|(_, best)| r > *best) {
                    closest = Some((flow, r));
                }
            }
        }
    }
    let what = match &ask.target {
        Target::Integration {
            integration,
            resource_type,
            resources,
            permissions,
        } => format!(
            "no access flow lets {} request {} on {integration}/{resource_type} {}",
            caller.user,
            permissions.join(","),
            summarize(resources)
        ),
        Target::Bundle(b) => format!("no access flow lets {} request bundle {b}", caller.user),
    };
    let bad_value = matches!(
        closest,
        Some((_, Refusal::Duration(..) | Refusal::Justification(_)))
    );
    let message = match closest {
        None => format!("{what}: no access flows are configured"),
        Some((_, Refusal::Requester)) => format!(
            "{what}: you are not a requester in any access flow (run `jit catalog` to see what you may request)"
        ),
        Some((flow, r)) => format!(
            "{what}: the closest is flow \"{}\", which {}",
            flow.name,
            explain(flow, &r)
        ),
    };
    Err(NoFlow { message, bad_value })
}

fn summarize(resources: &[String]) -> String {
    match resources {
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
        [] => String::new(),
    }
}

fn explain(flow: &Flow, r: &Refusal) -> String {
    match r {
        Refusal::Requester => "does not name you as a requester".into(),
        Refusal::Integration => match &flow.integration {
            Some(i) => format!("covers integration {i} instead"),
            None => format!("grants bundles {} instead", flow.bundles.join(", ")),
        },
        Refusal::ResourceType(t) => format!(
            "does not allow resource type \"{t}\" (allows: {})",
            flow.resource_types.join(", ")
        ),
        Refusal::Resource(res) => format!(
            "does not allow resource \"{res}\" (allows: {})",
            flow.resources.join(", ")
        ),
        Refusal::Permission(p) => format!(
            "does not allow permission \"{p}\" (allows: {})",
            flow.permissions.join(", ")
        ),
        Refusal::Duration(asked, max) => format!(
            "allows at most {} (asked for {})",
            humantime::format_duration(std::time::Duration::from_secs(*max)),
            humantime::format_duration(std::time::Duration::from_secs(*asked))
        ),
        Refusal::Justification(why) => why.clone(),
    }
}

fn check(flow: &Flow, caller: &Caller, ask: &Ask<'_>) -> Result<(), Refusal> {
    if !caller.matches_any(&flow.requesters) {
        return Err(Refusal::Requester);
    }
    match &ask.target {
        Target::Bundle(b) => {
            if !flow.bundles.iter().any(|x| x == b) {
                return Err(Refusal::Integration);
            }
        }
        Target::Integration {
            integration,
            resource_type,
            resources,
            permissions,
        } => {
            if flow.integration.as_deref() != Some(*integration) {
                return Err(Refusal::Integration);
            }
            if !flow.resource_types.is_empty()
                && !flow.resource_types.iter().any(|t| t == resource_type)
            {
                return Err(Refusal::ResourceType((*resource_type).to_owned()));
            }
            if let Some(res) = resources
                .iter()
                .find(|r| !flow.resources.iter().any(|p| pattern_matches(p, r)))
            {
                return Err(Refusal::Resource(res.clone()));
            }
            if !flow.permissions.is_empty()
                && let Some(p) = permissions.iter().find(|p| !flow.permissions.contains(p))
            {
                return Err(Refusal::Permission(p.clone()));
            }
        }
    }
    let max = flow.max_duration.as_secs();
    if let Some(d) = ask.duration_secs
        && d > max
    {
        return Err(Refusal::Duration(d, max));
    }
    let just = ask.justification.map(str::trim).filter(|j| !j.is_empty());
    if let Some(re) = &flow.justification_pattern {
        match just {
            Some(j) if re.is_match(j) => {}
            Some(_) => {
                return Err(Refusal::Justification(format!(
                    "needs a justification matching `{}`",
                    re.as_str()
                )));
            }
            None => {
                return Err(Refusal::Justification(format!(
                    "needs a justification (matching `{}`): add --reason",
                    re.as_str()
                )));
            }
        }
    } else if flow.justification == Justification::Required && just.is_none() {
        return Err(Refusal::Justification(
            "needs a justification: add --reason \"why you need it\"".into(),
        ));
    }
    Ok(())
}

/// The approver rules of a flow as strings, for the request record.
pub fn approver_rules(flow: &Flow) -> (Vec<String>, u32) {
    match &flow.approval {
        Approval::Auto => (Vec::new(), 0),
        Approval::Manual {
            approvers,
            required,
        } => (
            approvers.iter().map(ToString::to_string).collect(),
            *required,
        ),
    }
}
