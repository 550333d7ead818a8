//! Who may use Botper and what they may do: the allow-list (domains, organisations,
//! addresses), the three roles, and the admin commands' grammar. Pure.

use std::fmt;

use super::meeting::{bare_address, valid_email};

/// `BOTPER_ALLOWED_DOMAINS`, `_ORGS`, `_EMAILS`. Empty lists: open to everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    /// Lowercase domains; a person's address must be at one of them exactly.
    pub domains: Vec<String>,
    /// Webex organisation ids.
    pub orgs: Vec<String>,
    /// Lowercase addresses.
    pub emails: Vec<String>,
}

impl AllowList {
    /// Reads the three comma-separated lists (already trimmed of the variable's name).
    pub fn new(domains: &str, orgs: &str, emails: &str) -> Result<Self, String> {
        let split = |s: &str| -> Vec<String> {
            s.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        };
        let domains: Vec<String> = split(domains)
            .into_iter()
            .map(|d| d.trim_start_matches('@').to_lowercase())
            .collect();
        if let Some(bad) = domains
            .iter()
            .find(|d| !d.contains('.') || d.contains(['@', ' ', '/']))
        {
            return Err(format!("`{bad}` is not a domain like example.com"));
        }
        let emails: Vec<String> = split(emails)
            .into_iter()
            .map(|e| e.to_lowercase())
            .collect();
        if let Some(bad) = emails.iter().find(|e| !valid_email(e)) {
            return Err(format!("`{bad}` is not an email address"));
        }
        Ok(Self {
            domains,
            orgs: split(orgs),
            emails,
        })
    }

    pub fn is_open(&self) -> bool {
        self.domains.is_empty() && self.orgs.is_empty() && self.emails.is_empty()
    }

    /// Whether a person with this address and organisation may use Botper: open lists
    /// allow everyone; otherwise any one list that names them does.
    pub fn allows(&self, email: Option<&str>, org: Option<&str>) -> bool {
        if self.is_open() {
            return true;
        }
        if let Some(e) = email.map(str::to_lowercase) {
            if self.emails.contains(&e) {
                return true;
            }
            if let Some((_, domain)) = e.rsplit_once('@')
                && self.domains.iter().any(|d| d == domain)
            {
                return true;
            }
        }
        org.is_some_and(|o| self.orgs.iter().any(|x| x == o))
    }

    /// Whether the organisation list matters (the caller then needs the person's org).
    pub fn needs_org(&self) -> bool {
        !self.orgs.is_empty()
    }
}

/// What a person may do. Each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Tasks, reminders, the calendar (everyone allowed in).
    Member,
    /// May create meetings through Botper (when that is reserved).
    Organizer,
    /// Manages roles, sees statistics and the audit log, disconnects people.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Organizer => "organizer",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_lowercase().as_str() {
            "member" => Some(Self::Member),
            "organizer" | "organiser" => Some(Self::Organizer),
            "admin" | "administrator" => Some(Self::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `BOTPER_MEETING_ROLE`: who may create meetings through Botper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MeetingRole {
    #[default]
    Everyone,
    Organizer,
}

impl MeetingRole {
    pub fn allows(self, role: Role) -> bool {
        match self {
            Self::Everyone => true,
            Self::Organizer => role >= Role::Organizer,
        }
    }
}

/// A line of `admin roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleLine {
    pub email: String,
    pub role: Role,
    /// By whom and when (as shown); `None` for `BOTPER_ADMINS`.
    pub granted: Option<(String, String)>,
}

/// A line of `admin audit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    /// When, as shown.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
}

/// What `forget me confirm` deleted, for its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ForgetSummary {
    pub tasks: u64,
    pub jobs: u64,
    pub settings: bool,
    pub grant: bool,
    pub webhooks: u64,
    pub sessions: u64,
    pub calendar: bool,
    pub role: bool,
    pub inbox_rows: u64,
}

/// `admin …`, typed by an admin in a 1:1 space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// `admin grant organizer bob@example.com`
    Grant(Role, String),
    /// `admin revoke organizer bob@example.com`
    Revoke(Role, String),
    Roles,
    Stats,
    /// `admin disconnect bob@example.com`
    Disconnect(String),
    Audit,
    /// `admin` alone, or `admin help`.
    Help,
}

/// What is wrong with an `admin …` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    UnknownRole(String),
    /// A role that cannot be granted or revoked (`member`).
    NotGrantable(Role),
    BadEmail(String),
    Usage(&'static str),
    Unknown(String),
}

impl AdminCommand {
    pub fn parse(rest: &str) -> Result<Self, AdminError> {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let email = |w: Option<&&str>, usage: &'static str| -> Result<String, AdminError> {
            let raw = w.ok_or(AdminError::Usage(usage))?;
            let e = bare_address(raw).to_lowercase();
            if valid_email(&e) {
                Ok(e)
            } else {
                Err(AdminError::BadEmail((*raw).to_owned()))
            }
        };
        let role = |w: Option<&&str>, usage: &'static str| -> Result<Role, AdminError> {
            let raw = w.ok_or(AdminError::Usage(usage))?;
            match Role::parse(raw) {
                Some(Role::Member) => Err(AdminError::NotGrantable(Role::Member)),
                Some(r) => Ok(r),
                None => Err(AdminError::UnknownRole((*raw).to_owned())),
            }
        };
        const GRANT: &str = "admin grant organizer bob@example.com";
        const REVOKE: &str = "admin revoke organizer bob@example.com";
        const DISCONNECT: &str = "admin disconnect bob@example.com";
        let verb = words.first().map(|w| w.to_lowercase()).unwrap_or_default();
        let too_many = |n: usize, usage| {
            if words.len() > n {
                Err(AdminError::Usage(usage))
            } else {
                Ok(())
            }
        };
        match verb.as_str() {
            "" | "help" => Ok(Self::Help),
            "grant" => {
                too_many(3, GRANT)?;
                Ok(Self::Grant(
                    role(words.get(1), GRANT)?,
                    email(words.get(2), GRANT)?,
                ))
            }
            "revoke" => {
                too_many(3, REVOKE)?;
                Ok(Self::Revoke(
                    role(words.get(1), REVOKE)?,
                    email(words.get(2), REVOKE)?,
                ))
            }
            "roles" => Ok(Self::Roles),
            "stats" | "statistics" => Ok(Self::Stats),
            "audit" | "log" => Ok(Self::Audit),
            "disconnect" => {
                too_many(2, DISCONNECT)?;
                Ok(Self::Disconnect(email(words.get(1), DISCONNECT)?))
            }
            other => Err(AdminError::Unknown(other.chars().take(40).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_allow_list_is_open_and_any_list_that_names_someone_lets_them_in() {
        let open = AllowList::default();
        assert!(open.allows(None, None));
        let l = AllowList::new("example.com, @Corp.example", "org-1", "guest@other.org").unwrap();
        assert!(!l.is_open());
        assert!(l.allows(Some("Ana@EXAMPLE.com"), None));
        assert!(l.allows(Some("bo@corp.example"), None));
        assert!(
            !l.allows(Some("eve@evil-example.com"), None),
            "not a suffix match"
        );
        assert!(
            !l.allows(Some("eve@sub.example.com"), None),
            "exact domains only"
        );
        assert!(l.allows(Some("GUEST@other.org"), None));
        assert!(!l.allows(Some("host@other.org"), None));
        assert!(l.allows(Some("x@elsewhere.net"), Some("org-1")));
        assert!(!l.allows(Some("x@elsewhere.net"), Some("org-2")));
        assert!(!l.allows(None, None));
        assert!(l.needs_org());
    }

    #[test]
    fn bad_allow_list_entries_are_refused() {
        assert!(AllowList::new("localhost", "", "").is_err());
        assert!(AllowList::new("", "", "not-an-address").is_err());
        assert!(AllowList::new(" , ", "", "").unwrap().is_open());
    }

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin > Role::Organizer && Role::Organizer > Role::Member);
        assert!(MeetingRole::Everyone.allows(Role::Member));
        assert!(!MeetingRole::Organizer.allows(Role::Member));
        assert!(MeetingRole::Organizer.allows(Role::Organizer));
        assert!(MeetingRole::Organizer.allows(Role::Admin));
        assert_eq!(Role::parse("Organiser"), Some(Role::Organizer));
        assert_eq!(Role::parse("boss"), None);
    }

    #[test]
    fn admin_commands_parse_and_bad_ones_say_why() {
        assert_eq!(
            AdminCommand::parse("grant organizer Bob@Example.com"),
            Ok(AdminCommand::Grant(
                Role::Organizer,
                "bob@example.com".into()
            ))
        );
        assert_eq!(
            AdminCommand::parse("revoke admin <mailto:ann@example.com>"),
            Ok(AdminCommand::Revoke(Role::Admin, "ann@example.com".into()))
        );
        assert_eq!(AdminCommand::parse("roles"), Ok(AdminCommand::Roles));
        assert_eq!(AdminCommand::parse("STATS"), Ok(AdminCommand::Stats));
        assert_eq!(AdminCommand::parse("audit"), Ok(AdminCommand::Audit));
        assert_eq!(AdminCommand::parse(""), Ok(AdminCommand::Help));
        assert_eq!(
            AdminCommand::parse("disconnect bob@example.com"),
            Ok(AdminCommand::Disconnect("bob@example.com".into()))
        );
        assert_eq!(
            AdminCommand::parse("grant boss bob@example.com"),
            Err(AdminError::UnknownRole("boss".into()))
        );
        assert_eq!(
            AdminCommand::parse("grant member bob@example.com"),
            Err(AdminError::NotGrantable(Role::Member))
        );
        assert_eq!(
            AdminCommand::parse("grant organizer bob"),
            Err(AdminError::BadEmail("bob".into()))
        );
        assert!(matches!(
            AdminCommand::parse("grant organizer"),
            Err(AdminError::Usage(_))
        ));
        assert!(matches!(
            AdminCommand::parse("grant organizer a@b.co c@d.co"),
            Err(AdminError::Usage(_))
        ));
        assert_eq!(
            AdminCommand::parse("reboot"),
            Err(AdminError::Unknown("reboot".into()))
        );
    }
}
