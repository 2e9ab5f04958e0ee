// The environment cards of a component's Deploy view, in promotion order: what is live (image digest,
// commit, age, status, bake state), its URLs, Promote to the next environment (asking first for the
// target's missing configurables, in the same dialog), the release history with Rollback, Manage Configs and
// Secrets, and the health-check and resource settings the next deploy uses.
import { h, badge, shortDigest, fmtAge, fmtBytes, field, openDialog, confirmButton, errorBox, replace } from "./dom.js";
import { manageConfigs, missingConfigs, setConfig } from "./view-configs.js";
import * as api from "./api.js";

function checkText(c) {
        if (!c || c.kind === "none")
                return "none";
        const what = c.kind === "http" ? `HTTP GET ${c.path}` : c.kind === "tcp" ? "TCP connect" : c.kind;
        return `${what}${c.port ? " :" + c.port : ""} every ${c.interval_ms / 1000} s, timeout ${c.timeout_ms / 1000} s, ${c.failure_threshold} failures`;
}

function settings(spec) {
        const hc = spec.health || {};
        const res = spec.resources || {};
        return h("details", { class: "settings" }, h("summary", { text: "Health checks and resources" }),
                 h("dl", { class: "facts" },
                   h("dt", { text: "Readiness" }), h("dd", { text: checkText(hc.readiness) }),
                   h("dt", { text: "Liveness" }), h("dd", { text: checkText(hc.liveness) }),
                   h("dt", { text: "Deploy timeout" }), h("dd", { text: hc.deploy_timeout_ms ? `${hc.deploy_timeout_ms / 1000} s` : "—" }),
                   h("dt", { text: "Memory" }), h("dd", { text: res.memory_bytes ? fmtBytes(res.memory_bytes) : "unlimited" }),
                   h("dt", { text: "CPUs" }), h("dd", { text: res.cpus_milli ? String(res.cpus_milli / 1000) : "unlimited" }),
                   h("dt", { text: "Processes" }), h("dd", { text: res.pids ? String(res.pids) : "unlimited" }),
                   h("dt", { text: "Bake window" }), h("dd", { text: spec.bake_ms === null || spec.bake_ms === undefined ? "daemon default" : `${spec.bake_ms / 1000} s, at most ${spec.bake_max_5xx_percent}% 5xx` })));
}

function bakeText(bake) {
        if (!bake)
                return null;
        const parts = [`bake ${bake.state}`];
        if (bake.requests !== undefined)
                parts.push(`${bake.requests} requests, ${bake["5xx"] || 0} 5xx`);
        if (bake.reason)
                parts.push(bake.reason);
        return h("div", { class: "bake", text: parts.join(" · ") });
}

// ctx: {project, comp (GET …/components/C), envs (ordered project envs), builds, urls (env → urls), reload}
export function envCards(ctx) {
        const byName = new Map(ctx.comp.environments.map((e) => [e.name, e]));
        const commitOf = new Map();
        for (const b of ctx.builds)
                if (b.image_digest && !commitOf.has(b.image_digest))
                        commitOf.set(b.image_digest, b);
        return h("div", { class: "env-cards" }, ctx.envs.map((env, i) => {
                const e = byName.get(env.name) || { releases: [] };
                const next = ctx.envs[i + 1];
                const live = e.live;
                const build = live && commitOf.get(live.image_digest);
                const urls = ctx.urls.get(env.name) || [];
                return h("section", { class: "card env-card", dataset: { env: env.name } },
                         h("h3", {}, env.name, env.protected ? h("span", { class: "tag", text: "protected" }) : null),
                         live ? h("div", { class: "live" },
                                  h("div", {}, badge(live.status), " ", h("code", { class: "digest", text: shortDigest(live.image_digest) }),
                                    " ", h("span", { class: "muted", text: fmtAge(live.created_at) })),
                                  build ? h("div", { class: "commit" }, h("code", { text: build.short_commit }), " ", h("span", { class: "subject", text: build.commit_subject || "" }))
                                        : null,
                                  h("div", { class: "muted", text: `release ${live.id} · ${live.origin}${live.source_release_id ? " of " + live.source_release_id : ""}` }),
                                  e.instance ? h("div", { class: "muted", text: `instance ${e.instance.state} at ${e.instance.address}${e.instance.restarts ? `, ${e.instance.restarts} restarts` : ""}` }) : null,
                                  bakeText(live.bake))
                              : h("p", { class: "muted empty", text: "Nothing live." }),
                         (ctx.pending || []).filter((a) => a.to === env.name).map((a) => h("div", { class: "pending-approval", dataset: { approval: a.id } },
                                 `Promotion from ${a.from} (image `, h("code", { text: shortDigest(a.image_digest) }), `) requested by ${a.requested_by} ${fmtAge(a.requested_at)} waits for an admin's approval: `,
                                 h("a", { href: "#/approvals", text: `request #${a.id}` }), ".")),
                         urls.length ? h("ul", { class: "urls" }, urls.map((u) => h("li", {}, h("a", { href: u.url, target: "_blank", rel: "noopener noreferrer", text: u.url })))) : null,
                         h("div", { class: "actions" },
                           next && live && api.canWrite() ? h("button", { type: "button", class: "primary promote", text: `${asks(next) ? "Request to Promote" : "Promote"} to ${next.name}`, onclick: () => promote(ctx, env.name, next) }) : null,
                           h("button", { type: "button", class: "configs-btn", text: "Manage Configs and Secrets", onclick: () => manageConfigs(ctx.project, ctx.comp, env.name, ctx.reload) })),
                         releases(ctx, env.name, e),
                         settings(ctx.comp.spec));
        }));
}

function releases(ctx, env, e) {
        if (!e.releases.length)
                return null;
        const liveId = e.live && e.live.id;
        return h("details", { class: "releases" }, h("summary", { text: `Release history (${e.releases_total})` }),
                 h("table", { class: "list" },
                   h("thead", {}, h("tr", {}, h("th", { text: "Release" }), h("th", { text: "Image" }), h("th", { text: "Status" }), h("th", { text: "When" }), h("th", {}))),
                   h("tbody", {}, e.releases.map((r) => h("tr", { dataset: { release: r.id } },
                           h("td", { text: `${r.id} (${r.origin})` }),
                           h("td", {}, h("code", { text: shortDigest(r.image_digest) })),
                           h("td", {}, badge(r.status), r.reason ? h("div", { class: "muted small", text: r.reason }) : null),
                           h("td", { class: "muted", text: fmtAge(r.created_at) }),
                           h("td", {}, api.canWrite() && r.id !== liveId && (r.status === "superseded" || r.status === "rolled-back")
                                           ? confirmButton("Rollback", "Roll back?", () => rollback(ctx, env, r.id), "small rollback")
                                           : null))))));
}

async function rollback(ctx, env, id) {
        try {
                await api.api("POST", api.compPath(ctx.project, ctx.comp.name, "/rollback"), { env, to: id });
        } catch (e) {
                ctx.showError(e);
        }
        ctx.reload();
}

// A developer's promotion into a protected environment is a request an admin decides (view-approvals.js).
function asks(env) {
        return env.protected && !api.isAdmin();
}

// Promote: the target's missing required configurables are asked for in the dialog and set first.
async function promote(ctx, from, target) {
        const to = target.name;
        let missing = [];
        try {
                missing = await missingConfigs(ctx.project, ctx.comp, to);
        } catch (e) {
                ctx.showError(e);
                return;
        }
        const inputs = new Map();
        const body = h("div", { class: "promote" });
        function renderInputs() {
                replace(body,
                        h("p", { text: `The image live in ${from} goes to ${to} unchanged, with ${to}'s own configs and secrets.` }),
                        asks(target) ? h("p", { class: "warn ask-approval", text: `${to} is protected: this records a request, and an admin's approval deploys it.` }) : null,
                        missing.length ? h("p", { class: "warn", text: `${to} has no value for ${missing.map((m) => m.name).join(", ")}: give them here, they are set before the promotion.` }) : null,
                        missing.map((m) => {
                                let el = inputs.get(m.name);
                                if (!el) {
                                        el = h("input", { name: m.name, required: true, type: m.secret ? "password" : "text", autocomplete: "off", class: "missing-config" });
                                        inputs.set(m.name, el);
                                }
                                return field(`${m.name}${m.secret ? " (secret)" : ""}`, el);
                        }));
        }
        renderInputs();
        openDialog(`Promote ${ctx.comp.name} to ${to}`, body, [
                { label: "Cancel" },
                {
                        label: asks(target) ? `Request to Promote to ${to}` : `Promote to ${to}`, primary: true, onclick: async (dlg, err) => {
                                for (const m of missing)
                                        await setConfig(ctx.project, ctx.comp.name, to, m.name, inputs.get(m.name).value, m.secret, m.file);
                                for (const el of inputs.values())
                                        el.value = "";
                                try {
                                        // 202 {"approval": …} when the target is protected and we are a developer:
                                        // the card then shows the request until an admin decides it.
                                        await api.api("POST", api.compPath(ctx.project, ctx.comp.name, "/promote"), { from, to });
                                } catch (e) {
                                        // Still missing (a configurable declared meanwhile): ask for those too.
                                        if (e.status === 409 && e.body && Array.isArray(e.body.missing) && e.body.missing.length) {
                                                const declared = new Map((ctx.comp.spec.configs || []).map((c) => [c.name, c]));
                                                missing = e.body.missing.map((n) => ({ name: n, secret: declared.has(n) && declared.get(n).secret }));
                                                renderInputs();
                                        }
                                        throw e;
                                }
                                ctx.reload();
                        },
                },
        ]);
}
