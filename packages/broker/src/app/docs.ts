import type { OpenApiDocument } from "./openapi.js";

/**
 * Renders the OpenAPI document as one self-contained HTML page (no scripts, no external assets,
 * so it works offline): every operation with its parameters, body and responses, then every schema.
 */
export function renderDocsPage(doc: OpenApiDocument): string {
  const info = doc.info as { title: string; version: string; description: string };
  const operations: Array<{ method: string; path: string; op: Record<string, unknown> }> = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      operations.push({ method: method.toUpperCase(), path, op: op as Record<string, unknown> });
    }
  }
  const tags = (doc.tags as Array<{ name: string; description: string }> | undefined) ?? [];
  const sections = tags
    .map((tag) => {
      const ops = operations.filter(({ op }) => (op.tags as string[] | undefined)?.includes(tag.name));
      if (ops.length === 0) return "";
      return `<section><h2 id="tag-${esc(tag.name)}">${esc(tag.name)}</h2><p>${esc(tag.description)}</p>${ops
        .map(renderOperation)
        .join("")}</section>`;
    })
    .join("");
  const schemaList = Object.entries(doc.components.schemas)
    .map(
      ([name, schema]) =>
        `<details id="schema-${esc(name)}"><summary><code>${esc(name)}</code></summary>${schemaBlock(schema)}</details>`,
    )
    .join("");
  const toc = operations
    .map(
      ({ method, path, op }) =>
        `<li><a href="#op-${esc(String(op.operationId))}"><span class="m m-${method}">${method}</span> ${esc(path)}</a></li>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} ${esc(info.version)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d1d1f;display:flex}
nav{width:300px;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f5f5f7;padding:16px;box-sizing:border-box;font-size:13px}
nav ul{list-style:none;padding:0}nav a{color:inherit;text-decoration:none}
main{padding:24px 40px;max-width:900px}
pre{background:#f5f5f7;padding:12px;overflow:auto;font-size:12.5px;border-radius:6px}
.op{border:1px solid #ddd;border-radius:8px;padding:12px 16px;margin:16px 0}
.m{display:inline-block;min-width:54px;font-weight:600;font-family:ui-monospace,monospace}
.m-GET{color:#0a7}.m-POST{color:#06c}.m-PATCH{color:#a60}.m-DELETE{color:#c22}.m-PUT{color:#83c}
table{border-collapse:collapse;font-size:13.5px}td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;vertical-align:top}
.auth{font-size:12px;background:#eef;border-radius:4px;padding:1px 6px}
</style></head><body>
<nav><strong>${esc(info.title)}</strong><br>v${esc(info.version)} · <a href="/openapi.json">openapi.json</a><ul>${toc}</ul><a href="#schemas">Schemas</a></nav>
<main><h1>${esc(info.title)}</h1>${info.description
    .split("\n\n")
    .map((p) => `<p>${inlineCode(esc(p))}</p>`)
    .join("")}${sections}<h2 id="schemas">Schemas</h2>${schemaList}</main></body></html>`;
}

function renderOperation({
  method,
  path,
  op,
}: {
  method: string;
  path: string;
  op: Record<string, unknown>;
}): string {
  const params = (op.parameters as Array<Record<string, unknown>> | undefined) ?? [];
  const security = op.security as unknown[] | undefined;
  const body = op.requestBody as { content: Record<string, { schema: { $ref: string } }> } | undefined;
  const responses = op.responses as Record<
    string,
    { description: string; content?: Record<string, { schema?: { $ref: string } }> }
  >;
  return `<div class="op" id="op-${esc(String(op.operationId))}"><h3><span class="m m-${method}">${method}</span> <code>${esc(
    path,
  )}</code></h3><p><strong>${esc(String(op.summary))}</strong> ${
    security && security.length > 0 ? '<span class="auth">Bearer key</span>' : ""
  }</p>${op.description ? `<p>${inlineCode(esc(String(op.description)))}</p>` : ""}${
    params.length > 0
      ? `<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>${params
          .map(
            (p) =>
              `<tr><td><code>${esc(String(p.name))}</code>${p.required ? " *" : ""}</td><td>${esc(String(p.in))}</td><td><code>${esc(
                JSON.stringify(p.schema),
              )}</code></td><td>${esc(String(p.description ?? ""))}</td></tr>`,
          )
          .join("")}</table>`
      : ""
  }${body ? `<p>Body: ${refLink(Object.values(body.content)[0]?.schema.$ref)}</p>` : ""}<table>${Object.entries(
    responses,
  )
    .map(
      ([status, response]) =>
        `<tr><td>${esc(status)}</td><td>${inlineCode(esc(response.description))}</td><td>${refLink(
          Object.values(response.content ?? {})[0]?.schema?.$ref,
        )}</td></tr>`,
    )
    .join("")}</table></div>`;
}

function schemaBlock(schema: unknown): string {
  const text = esc(JSON.stringify(schema, null, 2)).replace(
    /&quot;#\/components\/schemas\/(\w+)&quot;/g,
    (_, name: string) => `<a href="#schema-${name}">"#/components/schemas/${name}"</a>`,
  );
  return `<pre>${text}</pre>`;
}

function refLink(ref: string | undefined): string {
  if (ref === undefined) return "";
  const name = ref.split("/").at(-1) ?? ref;
  return `<a href="#schema-${esc(name)}"><code>${esc(name)}</code></a>`;
}

function inlineCode(html: string): string {
  return html.replace(/`([^`]+)`/g, "<code>$1</code>");
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`).replace(/&#34;/g, "&quot;");
}
