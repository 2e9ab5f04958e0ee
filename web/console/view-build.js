// The build console: one build's steps with status and timing, its log streaming live while it runs
// (GET builds/ID/logs?follow=1 read with fetch() as it arrives; polling from the last offset when the
// daemon has no follower slot left), ANSI colours as spans, and once done its scan findings and SBOM.
import { h, card, badge, replace, fmtDuration, fmtStepTime, fmtTime, errorBox, confirmButton } from "./dom.js";
import { AnsiRenderer } from "./ansi.js";
import * as api from "./api.js";

const POLL_MS = 1000;
const ENDED = new Set(["succeeded", "failed", "cancelled"]);

export async function buildView(root, { project, component, build: id }, app) {
        let b = await api.get(`builds/${id}`);
        app.title(`Build ${id} of ${component}`);
        const compHref = `#/projects/${api.enc(project)}/components/${api.enc(component)}`;
        const head = h("div", { class: "build-head" });
        const stepsEl = h("ol", { class: "steps" });
        const logEl = h("pre", { class: "log", id: "build-log", tabindex: "0" });
        const follow = h("input", { type: "checkbox", checked: true });
        const extra = h("div", { class: "build-extra" });
        const ansi = new AnsiRenderer(logEl);
        const ctl = new AbortController();
        let offset = 0, timer = null, streaming = false, stopped = false;

        root.appendChild(h("nav", { class: "crumbs" }, h("a", { href: "#/projects", text: "Projects" }), " / ",
                           h("a", { href: `#/projects/${api.enc(project)}`, text: project }), " / ",
                           h("a", { href: compHref, text: component }), " / ", h("span", { text: `build ${id}` })));
        root.appendChild(card(null, head));
        root.appendChild(h("div", { class: "build-grid" },
                           card("Steps", stepsEl),
                           card("Log", h("label", { class: "check" }, follow, " follow"), logEl)));
        root.appendChild(extra);

        function renderHead() {
                replace(head,
                        h("h2", {}, `Build ${b.id} `, badge(b.status)),
                        h("dl", { class: "facts" },
                          h("dt", { text: "Commit" }), h("dd", {}, h("code", { text: b.short_commit || "—" }), " ", h("span", { class: "subject", text: b.commit_subject || "" })),
                          h("dt", { text: "Author" }), h("dd", { text: b.commit_author || "—" }),
                          h("dt", { text: "Trigger" }), h("dd", { text: `${b.trigger}${b.requested_by ? " by " + b.requested_by : ""}${b.deploy ? ", then deploy" : ""}` }),
                          h("dt", { text: "Started" }), h("dd", { text: fmtTime(b.started_at) }),
                          h("dt", { text: "Duration" }), h("dd", { text: fmtDuration(b.duration_sec) }),
                          h("dt", { text: "Image" }), h("dd", {}, h("code", { text: b.image_ref || "—" }))),
                        b.reason ? h("p", { class: "error", text: b.reason }) : null,
                        !ENDED.has(b.status) && api.canWrite()
                                ? confirmButton("Cancel build", "Really cancel?", async () => {
                                          try {
                                                  b = await api.api("DELETE", `builds/${id}`);
                                                  renderHead();
                                          } catch (e) {
                                                  head.appendChild(errorBox(e));
                                          }
                                  }, "danger cancel-build")
                                : null);
                replace(stepsEl, (b.steps || []).map((s) =>
                        h("li", { class: ["step", `st-${s.status}`], dataset: { step: s.name } },
                          h("span", { class: "step-name", text: s.name }), " ", badge(s.status), " ",
                          h("span", { class: "muted", text: fmtStepTime(s) }),
                          s.message ? h("div", { class: "step-msg", text: s.message }) : null)));
        }

        function write(text) {
                offset += new TextEncoder().encode(text).length;
                ansi.write(text);
                if (follow.checked)
                        logEl.scrollTop = logEl.scrollHeight;
        }

        async function readFrom() {
                const r = await api.getText(`builds/${id}/logs?offset=${offset}`, { signal: ctl.signal });
                const end = parseInt(r.headers.get("X-Slipway-Log-Offset") || "0", 10);
                if (r.text)
                        write(r.text);
                if (end)
                        offset = end;
        }

        async function followLog() {
                streaming = true;
                try {
                        await api.stream(`builds/${id}/logs?follow=1&offset=${offset}`, write, ctl.signal);
                } catch (e) {
                        if (e.name === "AbortError")
                                return;
                        if (e.status !== 503)
                                logEl.after(errorBox(e));
                        // No follower slot (or the stream broke): read on by polling.
                } finally {
                        streaming = false;
                }
        }

        async function tick() {
                if (stopped)
                        return;
                try {
                        b = await api.get(`builds/${id}`, { signal: ctl.signal });
                        renderHead();
                        if (!streaming)
                                await readFrom();
                        if (ENDED.has(b.status)) {
                                if (!streaming)
                                        await readFrom();
                                renderExtra();
                                return;
                        }
                } catch (e) {
                        if (e.name === "AbortError")
                                return;
                }
                timer = setTimeout(tick, POLL_MS);
        }

        function renderExtra() {
                const scan = b.scan;
                const parts = [];
                if (scan) {
                        const c = scan.counts || {};
                        const rows = [...(scan.findings || []), ...(scan.checks || [])];
                        parts.push(card("Scan findings",
                                        h("p", { text: `critical ${c.critical || 0} · high ${c.high || 0} · medium ${c.medium || 0} · low ${c.low || 0} · secrets ${c.secrets || 0}` }),
                                        scan.policy && scan.policy.verdict ? h("p", { text: `Verdict: ${scan.policy.verdict}` }) : null,
                                        rows.length ? h("table", { class: "list findings" },
                                                        h("thead", {}, h("tr", {}, h("th", { text: "Severity" }), h("th", { text: "What" }), h("th", { text: "Summary" }))),
                                                        h("tbody", {}, rows.map((f) => h("tr", {},
                                                                h("td", {}, badge(String(f.severity || "").toLowerCase())),
                                                                h("td", {}, h("code", { text: f.id || f.rule || f.package || "" })),
                                                                h("td", { text: `${f.summary || f.title || ""}${f.waived ? " (waived)" : ""}` })))))
                                                    : h("p", { class: "muted", text: "No finding." })));
                }
                if (b.status === "succeeded") {
                        const dl = h("button", { type: "button", class: "sbom", text: "Download SBOM (CycloneDX 1.5)" });
                        dl.addEventListener("click", async () => {
                                try {
                                        const blob = await api.getBlob(`builds/${id}/sbom`);
                                        const a = h("a", { href: URL.createObjectURL(blob), download: `build-${id}-sbom.json` });
                                        document.body.appendChild(a);
                                        a.click();
                                        a.remove();
                                        setTimeout(() => URL.revokeObjectURL(a.href), 10000);
                                } catch (e) {
                                        dl.after(errorBox(e));
                                }
                        });
                        parts.push(card("SBOM", dl));
                }
                replace(extra, parts);
        }

        renderHead();
        await readFrom();
        if (ENDED.has(b.status))
                renderExtra();
        else {
                followLog();
                timer = setTimeout(tick, POLL_MS);
        }
        return () => {
                stopped = true;
                clearTimeout(timer);
                ctl.abort();
        };
}
