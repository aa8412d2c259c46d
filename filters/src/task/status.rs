//! The task statuses of the Seedance task API, and which of them are final. The one definition:
//! the list filter, the store (whether a task still holds a slot), billing (whether it may be
//! settled) and the metrics' label set all read it from here.

/// A task's status as the upstream reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Expired,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Queued,
        TaskStatus::Running,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::Expired,
        TaskStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Expired => "expired",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    /// Exact, lower-case names only: the upstream spells them so, and a filter that guessed
    /// would widen a list the customer asked to narrow.
    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A terminal task never changes again: it releases its slot and may be settled.
    pub fn is_terminal(self) -> bool {
        !matches!(self, TaskStatus::Queued | TaskStatus::Running)
    }

    /// The terminal statuses, in [`TaskStatus::ALL`] order.
    pub fn terminal() -> impl Iterator<Item = TaskStatus> {
        TaskStatus::ALL.into_iter().filter(|s| s.is_terminal())
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `status` (as stored or as the upstream wrote it) is terminal. A status the edge does
/// not know is not: the task keeps its slot and is polled again rather than settled on a guess.
pub fn is_terminal(status: &str) -> bool {
    TaskStatus::parse(status).is_some_and(TaskStatus::is_terminal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        for bad in ["", "Succeeded", "done", "succeeded "] {
            assert_eq!(TaskStatus::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_queued_and_running_are_live() {
        let terminal: Vec<&str> = TaskStatus::terminal().map(TaskStatus::as_str).collect();
        assert_eq!(terminal, ["succeeded", "failed", "expired", "cancelled"]);
        assert!(!is_terminal("queued") && !is_terminal("running"));
        assert!(!is_terminal("unknown"), "an unknown status keeps the task live");
    }
}
