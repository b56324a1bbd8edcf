//! Execution limits (just-bash's "hardened" profile values as defaults).

use std::time::Duration;

use atlas_sandbox_sdk::HumanDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Limits of one `exec`. Hitting one stops the script with exit 126 (124 for the deadline) and a
/// message; the output produced so far is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Simple commands executed per exec (builtins, functions and commands all count).
    pub max_commands: u64,
    /// Iterations of all `for`/`while`/`until` loops per exec.
    pub max_loop_iterations: u64,
    /// Nesting depth of function calls.
    pub max_call_depth: u32,
    /// Nesting depth of `$(...)`, `eval`, `bash -c` and `source`.
    pub max_substitution_depth: u32,
    /// Longest string a variable or expansion may hold, in bytes.
    pub max_string_length: usize,
    /// Bytes the in-memory write layer may hold (files written by commands). It counts towards
    /// `max_exec_memory_bytes` too.
    pub max_memory_bytes: u64,
    /// Memory one exec may build: shell variables, arrays and positional parameters, command
    /// arguments, awk values and fields, jq/yq values, pipeline buffers and the write layer.
    /// Past it the command stops with exit 126.
    pub max_exec_memory_bytes: u64,
    /// Memory all concurrent execs of the process (every just-bash sandbox) may build together.
    /// Past it the exec that asks for more stops with exit 126.
    pub max_total_memory_bytes: u64,
    /// Bytes one pipeline stage or the whole exec may write to stdout or stderr before it stops.
    pub max_output_bytes: usize,
    /// Largest file of the semantic layer that may be read, in bytes.
    pub max_file_bytes: u64,
    /// Longest script accepted, in bytes.
    pub max_source_bytes: usize,
    /// Deepest nesting of brackets, quotes and compound commands accepted by the parser.
    pub max_nesting_depth: usize,
    /// Results of one brace expansion (`{1..10}`).
    pub max_brace_expansion: usize,
    /// Directory entries visited by one glob, `find`, `grep -r`, `ls -R` or `tree`.
    pub max_traversal_entries: u64,
    /// Wall-clock limit of one exec (the request's timeout applies too; the smaller wins).
    pub deadline: HumanDuration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_commands: 10_000,
            max_loop_iterations: 10_000,
            max_call_depth: 100,
            max_substitution_depth: 50,
            max_string_length: 10 * 1024 * 1024,
            max_memory_bytes: 64 * 1024 * 1024,
            max_exec_memory_bytes: 128 * 1024 * 1024,
            max_total_memory_bytes: 1024 * 1024 * 1024,
            max_output_bytes: 10 * 1024 * 1024,
            max_file_bytes: 10 * 1024 * 1024,
            max_source_bytes: 256 * 1024,
            max_nesting_depth: 200,
            max_brace_expansion: 10_000,
            max_traversal_entries: 100_000,
            deadline: HumanDuration(Duration::from_secs(30)),
        }
    }
}

impl Limits {
    /// Rejects limits that would make every command fail.
    pub fn validate(&self) -> Result<(), String> {
        let checks: [(&str, bool); 11] = [
            ("max_exec_memory_bytes", self.max_exec_memory_bytes == 0),
            ("max_total_memory_bytes", self.max_total_memory_bytes == 0),
            ("max_commands", self.max_commands == 0),
            ("max_call_depth", self.max_call_depth == 0),
            ("max_string_length", self.max_string_length == 0),
            ("max_output_bytes", self.max_output_bytes == 0),
            ("max_file_bytes", self.max_file_bytes == 0),
            ("max_source_bytes", self.max_source_bytes == 0),
            ("max_nesting_depth", self.max_nesting_depth == 0),
            ("max_traversal_entries", self.max_traversal_entries == 0),
            ("deadline", self.deadline.get().is_zero()),
        ];
        for (key, bad) in checks {
            if bad {
                return Err(format!("limits.{key} must be greater than zero"));
            }
        }
        Ok(())
    }
}
