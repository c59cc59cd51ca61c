//! The tool catalogue as the model sees it. Schemas are static text: building
//! them at run time would only add code.

pub struct Spec {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: &'static str,
}

pub const SPECS: &[Spec] = &[
    Spec {
        name: "read_file",
        description: "Read a text file in the workspace. Returns the file's text (up to 2000 lines or 50000 bytes per call); a note at the end says when it was truncated and which offset to use to read on.",
        parameters: r#"{"type":"object","properties":{"path":{"type":"string","description":"File path relative to the workspace (e.g. notes/a.md) or absolute under /workspace"},"offset":{"type":"integer","minimum":1,"description":"1-based line number to start from (default 1)"},"limit":{"type":"integer","minimum":1,"description":"Maximum number of lines to return (default 2000)"}},"required":["path"]}"#,
    },
    Spec {
        name: "write_file",
        description: "Create or overwrite a text file in the workspace with the given content, creating parent directories as needed. The write is atomic: the old content stays intact if it fails.",
        parameters: r#"{"type":"object","properties":{"path":{"type":"string","description":"File path relative to the workspace or absolute under /workspace"},"content":{"type":"string","description":"The complete new content of the file"}},"required":["path","content"]}"#,
    },
    Spec {
        name: "edit_file",
        description: "Replace one exact piece of text in a workspace file. old_text must appear exactly once in the file (copy it exactly, including whitespace); otherwise nothing changes and the error says how many times it matched.",
        parameters: r#"{"type":"object","properties":{"path":{"type":"string","description":"File path relative to the workspace or absolute under /workspace"},"old_text":{"type":"string","description":"The exact text to replace; must match exactly once"},"new_text":{"type":"string","description":"The replacement text (may be empty to delete)"}},"required":["path","old_text","new_text"]}"#,
    },
    Spec {
        name: "list_dir",
        description: "List a workspace directory: one entry per line, sorted, directories marked with a trailing /.",
        parameters: r#"{"type":"object","properties":{"path":{"type":"string","description":"Directory path relative to the workspace; use . for the workspace root"}},"required":["path"]}"#,
    },
    Spec {
        name: "search_files",
        description: "Search the text files under a workspace directory (recursively, skipping hidden directories and binary files) for lines containing a pattern. The pattern is literal text, or a wildcard pattern when it contains * (any run of characters) or ? (one character); it is case-insensitive unless it contains capital letters. Returns matching lines as path:line: text.",
        parameters: r#"{"type":"object","properties":{"pattern":{"type":"string","description":"Text to look for, e.g. TODO or fn *_test"},"path":{"type":"string","description":"Directory or file to search, relative to the workspace (default: the whole workspace)"}},"required":["pattern"]}"#,
    },
    Spec {
        name: "web_fetch",
        description: "Fetch a web page or text resource over HTTP(S) with GET, following redirects, and return it as readable text (HTML is reduced to its text content).",
        parameters: r#"{"type":"object","properties":{"url":{"type":"string","description":"Absolute http:// or https:// URL"},"max_chars":{"type":"integer","minimum":1,"maximum":200000,"description":"Maximum characters of text to return (default 20000)"}},"required":["url"]}"#,
    },
    Spec {
        name: "memory_save",
        description: "Save a fact, preference or note to long-term memory so it can be found in later conversations with memory_search. Keep each memory short and self-contained.",
        parameters: r#"{"type":"object","properties":{"text":{"type":"string","description":"The text to remember"},"tags":{"type":"array","items":{"type":"string"},"description":"Optional short labels, e.g. [\"preference\", \"project-x\"]"}},"required":["text"]}"#,
    },
    Spec {
        name: "memory_search",
        description: "Search long-term memory by meaning. Returns the closest saved memories with their similarity scores (1 is identical), tags and save times.",
        parameters: r#"{"type":"object","properties":{"query":{"type":"string","description":"What to look for, in natural language"},"k":{"type":"integer","minimum":1,"maximum":50,"description":"How many results to return (default 5)"}},"required":["query"]}"#,
    },
];
