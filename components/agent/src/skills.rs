//! Skills: folders of instructions for particular tasks, in the format
//! Claude, nanobot and OpenClaw share: `skills/NAME/SKILL.md`, YAML front
//! matter with `name` and `description`, then the instructions. Found anew
//! every turn (an edited skill is seen on the next turn), listed in the
//! system prompt by name and description only, and loaded by the model with
//! the agent's own `load_skill` tool when a task calls for it. Skills bundled
//! into the component are listed the same way; a workspace skill of the same
//! name takes their place. One bad skill is reported and skipped, never the
//! turn's failure.

use wasiclaw_json::Value;

use crate::files::Files;
use crate::frontmatter::{self, Yaml};
use crate::prelude::*;
use crate::tools::ToolSpec;

pub const DIR: &str = "skills";
pub const FILE: &str = "SKILL.md";
/// The agent's own tool that returns a skill's instructions.
pub const TOOL: &str = "load_skill";
/// At most this many skill folders are looked at (hostile workspaces).
pub const MAX_SKILLS: usize = 64;
/// A `SKILL.md` larger than this is refused: instructions, not documents.
pub const MAX_FILE: usize = 256 << 10;
const MAX_NAME: usize = 64;
const MAX_DESCRIPTION: usize = 1024;

/// Skills that ship inside the component: (front matter + instructions).
const BUNDLED: &[&str] = &[include_str!("skills/skill-creator.md")];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skill {
    pub name: String,
    pub description: String,
    /// The workspace folder (`skills/NAME`), or `None` for a bundled skill.
    pub dir: Option<String>,
}

/// The skills of this turn, and a line for each one that was skipped.
#[derive(Debug, Default)]
pub struct Catalog {
    pub skills: Vec<Skill>,
    pub problems: Vec<String>,
}

/// `name` and `description` from a document's front matter, checked.
fn header(doc: &str) -> Result<(String, String, &str), String> {
    let (fm, body) = frontmatter::split(doc)?;
    // Lengths in bytes (the spec's limits are characters; its names are
    // ASCII): core's char counting would cost the component ~1 KB.
    let field = |key: &str, max: usize| -> Result<String, String> {
        match fm.get(key) {
            Some(Yaml::Str(s)) if !s.trim().is_empty() && s.trim().len() <= max => {
                Ok(s.trim().to_string())
            }
            _ => Err(cat!(
                "`",
                key,
                "` must be a non-empty string of at most ",
                max,
                " bytes"
            )),
        }
    };
    let name = field("name", MAX_NAME)?;
    if name.contains(['\n', '\r', '/', '\\']) {
        return Err("`name` must be one line without slashes".to_string());
    }
    Ok((name, field("description", MAX_DESCRIPTION)?, body))
}

/// Finds the workspace's skills and the bundled ones. Sorted by name.
pub fn discover(files: &mut dyn Files) -> Catalog {
    let mut found = Catalog::default();
    let mut dirs = match files.list(DIR) {
        Ok(d) => d,
        Err(e) => {
            found.problems.push(cat!(DIR, "/: ", e));
            Vec::new()
        }
    };
    dirs.retain(|d| !d.starts_with('.'));
    if dirs.len() > MAX_SKILLS {
        found.problems.push(cat!(
            DIR,
            "/: more than ",
            MAX_SKILLS,
            " entries; only the first are read"
        ));
    }
    for dir in first_sorted(dirs, MAX_SKILLS) {
        let path = cat!(DIR, "/", dir, "/", FILE);
        let doc = match files.read(&path) {
            Ok(Some(b)) if b.len() > MAX_FILE => Err(cat!("larger than ", MAX_FILE, " bytes")),
            Ok(Some(b)) => String::from_utf8(b).map_err(|_| "not UTF-8".to_string()),
            // A folder without SKILL.md is not a skill (nor a problem).
            Ok(None) => continue,
            Err(e) => Err(e),
        };
        match doc.and_then(|d| header(&d).map(|(n, desc, _)| (n, desc))) {
            Ok((name, description)) if found.skills.iter().any(|s| s.name == name) => {
                found
                    .problems
                    .push(cat!(path, ": another skill is already named '", name, "'"));
                let _ = description;
            }
            Ok((name, description)) => found.skills.push(Skill {
                name,
                description,
                dir: Some(cat!(DIR, "/", dir)),
            }),
            Err(why) => found
                .problems
                .push(cat!(path, ": ", why, "; skill skipped")),
        }
    }
    for doc in BUNDLED {
        if let Ok((name, description, _)) = header(doc) {
            if !found.skills.iter().any(|s| s.name == name) {
                found.skills.push(Skill {
                    name,
                    description,
                    dir: None,
                });
            }
        }
    }
    sort_by(&mut found.skills, |s| s.name.as_str());
    found
}

/// The `k` first names in order, in O(n k): a hostile folder of a million
/// entries costs a pass over them, not a sort.
fn first_sorted(names: Vec<String>, k: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(k.min(names.len()));
    for name in names {
        if out.len() == k && out.last().is_some_and(|last| *last <= name) {
            continue;
        }
        let at = out.iter().position(|o| *o > name).unwrap_or(out.len());
        out.insert(at, name);
        out.truncate(k);
    }
    out
}

/// Insertion sort, for lists already cut to [`MAX_SKILLS`]-ish entries:
/// core's slice sort would cost the component several KB.
fn sort_by<T>(items: &mut [T], key: impl Fn(&T) -> &str) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && key(&items[j - 1]) > key(&items[j]) {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// The system prompt's skills section, within `max_bytes`.
pub fn prompt_section(cat: &Catalog, max_bytes: usize) -> String {
    if cat.skills.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## Skills\n\nSkills are instructions for particular tasks. When a task matches a \
         skill's description, call load_skill with its name before you start; files the \
         skill mentions are beside its SKILL.md (read them with read_file).\n\n",
    );
    for (i, s) in cat.skills.iter().enumerate() {
        let line = cat!("- ", s.name, ": ", s.description.replace('\n', " "), "\n");
        if out.len() + line.len() > max_bytes {
            out.push_str(&cat!(
                "- (",
                cat.skills.len() - i,
                " more skills not listed)\n"
            ));
            break;
        }
        out.push_str(&line);
    }
    out
}

/// The `load_skill` tool as the model sees it.
pub fn spec() -> ToolSpec {
    ToolSpec {
        name: TOOL.to_string(),
        description: "Load a skill's instructions by its name (see the skills list in the \
                      system prompt). Returns the instructions and the files beside them."
            .to_string(),
        parameters: r#"{"type":"object","properties":{"name":{"type":"string","description":"The skill's name"}},"required":["name"]}"#
            .to_string(),
    }
}

/// Runs `load_skill`: the instructions of the named skill, read now (so an
/// edit shows at once), and the other files in its folder.
pub fn load(files: &mut dyn Files, args: &Value) -> Result<String, String> {
    let name = args
        .get("name")
        .and_then(Value::as_str)
        .ok_or("invalid arguments: `name` must be a string")?;
    let cat = discover(files);
    let Some(skill) = cat.skills.iter().find(|s| s.name == name) else {
        let names: Vec<&str> = cat.skills.iter().map(|s| s.name.as_str()).collect();
        return Err(cat!(
            "no skill named '",
            name,
            "'; the skills are: ",
            names.join(", ")
        ));
    };
    let Some(dir) = &skill.dir else {
        let doc = BUNDLED
            .iter()
            .find(|d| header(d).is_ok_and(|(n, _, _)| n == name))
            .ok_or("the bundled skill is missing")?;
        let (_, _, body) = header(doc)?;
        return Ok(cat!("# Skill: ", name, " (bundled)\n\n", body.trim()));
    };
    let path = cat!(dir, "/", FILE);
    let doc = match files.read(&path) {
        Ok(Some(b)) => String::from_utf8(b).map_err(|_| cat!(path, ": not UTF-8"))?,
        Ok(None) => return Err(cat!(path, " is gone")),
        Err(e) => return Err(cat!(path, ": ", e)),
    };
    let (_, _, body) = header(&doc).map_err(|why| cat!(path, ": ", why))?;
    let mut out = cat!("# Skill: ", name, " (", path, ")\n\n", body.trim());
    let mut others = files.list(dir).unwrap_or_default();
    others.retain(|f| f != FILE && !f.starts_with('.'));
    if !others.is_empty() {
        out.push_str("\n\nFiles beside SKILL.md (read them with read_file):");
        for f in first_sorted(others, MAX_SKILLS).iter() {
            out.push_str(&cat!("\n- ", dir, "/", f));
        }
    }
    Ok(out)
}
