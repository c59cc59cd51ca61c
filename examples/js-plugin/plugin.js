// An example wasiclaw tool plugin in JavaScript (world wasiclaw:core/tool-plugin),
// built into a component with componentize-js; see README.md beside this file.
//
// The export is the `tools` interface: `list()` returns the tool specs, and
// `call(name, arguments)` returns the result text or throws a `tool-error`
// variant value, `{ tag: "invalid-arguments", val: "why" }`, which reaches
// the model as the tool's error.

const object = (field) =>
  JSON.stringify({ type: "object", properties: { [field]: { type: "string" } }, required: [field] });

export const tools = {
  list() {
    return [
      { name: "wordcount", description: "Counts the words and characters of a text.", parameters: object("text") },
      { name: "slug", description: "Turns a title into a URL slug.", parameters: object("title") },
    ];
  },

  call(name, args) {
    let parsed;
    try {
      parsed = JSON.parse(args);
    } catch (e) {
      throw { tag: "invalid-arguments", val: `arguments are not JSON: ${e}` };
    }
    switch (name) {
      case "wordcount": {
        const text = String(parsed.text ?? "");
        const words = text.split(/\s+/).filter(Boolean).length;
        return `${words} words, ${text.length} characters`;
      }
      case "slug":
        return String(parsed.title ?? "")
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, "-")
          .replace(/^-|-$/g, "");
      default:
        throw { tag: "unknown-tool", val: name };
    }
  },
};
