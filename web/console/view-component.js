// A component's Deploy view: the Build Area card (branch, latest commit, another commit to pick, Deploy
// Manually, Auto Build on Commit and Auto Deploy, the webhook URL and secret to copy), the environment cards
// in promotion order and the build history.  It refreshes itself while something is in flight.
import { h, card, badge, replace, fmtAge, fmtDuration, copyButton, errorBox, showError } from "./dom.js";
import { envCards } from "./view-envs.js";
import { envOrder } from "./view-projects.js";
import * as api from "./api.js";

const REFRESH_MS = 3000;
const BUILDS_SHOWN = 50;

export async function componentView(root, { project, component }, app) {
        const path = (rest) => api.compPath(project, component, rest);
        const err = errorBox(null);
        const area = h("div", { class: "build-area-slot" });
        const envsSlot = h("div", { class: "envs-slot" });
        const history = h("div", { class: "history-slot" });
        let timer = null, stopped = false, last = "", commits = null, webhook = null;

        root.appendChild(h("nav", { class: "crumbs" }, h("a", { href: "#/projects", text: "Projects" }), " / ",
                           h("a", { href: `#/projects/${api.enc(project)}`, text: project }), " / ", h("span", { text: component })));
        root.appendChild(err);
        root.appendChild(h("div", { class: "deploy-view" }, area, envsSlot, history));
        app.title(`${component} · ${project}`);

        async function load() {
                // One round: the component, its project, builds, pending approvals and every environment's
                // URLs side by side (beside GET /session on the first load), then once the Build Area's
                // commits and webhook.
                const [comp, proj, builds, approvals, urls] = await Promise.all([
                        api.get(path("")), api.get(`projects/${api.enc(project)}`),
                        api.get(path("/builds")).catch(() => ({ builds: [] })),
                        api.get("approvals").catch(() => ({ approvals: [] })),
                        api.get(path("/url")).catch(() => ({ environments: [] }))]);
                const envs = envOrder(proj.environments);
                if (comp.source)
                        await loadOnce();
                const pending = (approvals.approvals || []).filter((a) => a.project === project && a.component === component);
                const live = (urls.environments || []).filter((e) => e.live).map((e) => [e.environment, e.urls || []]);
                return { comp, envs, builds: builds.builds || [], urls: new Map(live), pending };
        }

        async function loadOnce() {
                await Promise.all([
                        commits ? null : api.get(path("/commits?limit=20")).then((c) => (commits = c), (e) => (commits = { error: e, commits: [] })),
                        webhook || !api.isAdmin() ? null : api.get(path("/webhook")).then((w) => (webhook = w), () => null)]);
        }

        function render(data) {
                const ctx = {
                        project, comp: data.comp, envs: data.envs, builds: data.builds, urls: data.urls, pending: data.pending,
                        reload: () => refresh(true), showError: (e) => showError(err, e),
                };
                replace(area, buildArea(data));
                replace(envsSlot, envCards(ctx));
                replace(history, buildHistory(data.builds));
                document.body.dataset.ready = "1";
        }

        function buildArea({ comp, envs }) {
                if (!comp.source)
                        return card("Image", h("p", {}, "Deploys the image ", h("code", { text: comp.image })),
                                    api.canWrite() && envs.length ? h("button", {
                                            type: "button", class: "primary deploy-manually", text: `Deploy to ${envs[0].name}`,
                                            onclick: async () => {
                                                    try {
                                                            await api.api("POST", path("/deploy"), { env: envs[0].name, image: comp.image });
                                                            refresh(true);
                                                    } catch (e) {
                                                            showError(err, e);
                                                    }
                                            },
                                    }) : null);
                const src = comp.source;
                const list = (commits && commits.commits) || [];
                const latest = list[0];
                const pick = h("select", { name: "commit", class: "commit-pick" },
                               list.map((c, i) => h("option", { value: c.id, text: `${c.short_id} ${c.subject}${i === 0 ? " (latest)" : ""}` })));
                const deployBtn = h("button", { type: "button", class: "primary deploy-manually", text: "Deploy Manually" });
                deployBtn.addEventListener("click", async () => {
                        deployBtn.disabled = true;
                        try {
                                const body = { deploy: true };
                                if (pick.value)
                                        body.commit = pick.value;
                                const b = await api.api("POST", path("/builds"), body);
                                app.go(`#/projects/${api.enc(project)}/components/${api.enc(component)}/builds/${b.id}`);
                        } catch (e) {
                                showError(err, e);
                        } finally {
                                deployBtn.disabled = false;
                        }
                });
                const refreshBtn = h("button", { type: "button", class: "small fetch-commits", text: "Fetch" });
                refreshBtn.addEventListener("click", async () => {
                        refreshBtn.disabled = true;
                        try {
                                commits = await api.get(path("/commits?limit=20&fetch=1"));
                                refresh(true);
                        } catch (e) {
                                showError(err, e);
                        } finally {
                                refreshBtn.disabled = false;
                        }
                });
                const toggle = (what, label, on) => {
                        const box = h("input", { type: "checkbox", class: `toggle-${what}`, checked: on, disabled: !api.canWrite() });
                        box.addEventListener("change", async () => {
                                try {
                                        await api.api("PUT", path(`/${what}`), { on: box.checked });
                                        refresh(true);
                                } catch (e) {
                                        box.checked = !box.checked;
                                        showError(err, e);
                                }
                        });
                        return h("label", { class: "check" }, box, " ", label);
                };
                return h("section", { class: "card build-area" },
                         h("h2", { text: "Build Area" }),
                         h("dl", { class: "facts" },
                           h("dt", { text: "Repository" }), h("dd", {}, h("code", { text: src.url })),
                           h("dt", { text: "Branch" }), h("dd", {}, h("code", { class: "branch", text: src.branch }), src.dir ? ` · ${src.dir}` : "", ` · ${src.dockerfile}`),
                           h("dt", { text: "Latest commit" }),
                           h("dd", { class: "latest-commit" }, latest ? [h("code", { class: "sha", text: latest.short_id }), " ",
                                                                         h("span", { class: "subject", text: latest.subject }), h("div", { class: "muted" }, h("span", { class: "author", text: `${latest.author_name} <${latest.author_email}>` }), ` · ${fmtAge(latest.time)}`)]
                                                                 : h("span", { class: "muted", text: commits && commits.error ? commits.error.message : "—" }), " ", refreshBtn)),
                         api.canWrite() ? h("div", { class: "deploy-row" }, list.length > 1 ? pick : null, deployBtn) : null,
                         h("div", { class: "toggles" }, toggle("autobuild", "Auto Build on Commit", comp.autobuild), toggle("autodeploy", "Auto Deploy", comp.autodeploy)),
                         webhook ? h("div", { class: "webhook" },
                                     h("div", {}, h("span", { class: "label", text: "Webhook URL " }), h("code", { class: "webhook-url", text: webhook.url }), " ", copyButton(webhook.url)),
                                     h("div", {}, h("span", { class: "label", text: "Secret " }), h("code", { class: "masked", text: "••••••••" }), " ", copyButton(() => webhook.secret, "Copy secret")))
                                 : null);
        }

        function buildHistory(builds) {
                const href = (b) => `#/projects/${api.enc(project)}/components/${api.enc(component)}/builds/${b.id}`;
                return card("Build history",
                            builds.length ? h("table", { class: "list builds" },
                                              h("thead", {}, h("tr", {}, h("th", { text: "Build" }), h("th", { text: "Status" }), h("th", { text: "Trigger" }),
                                                               h("th", { text: "Commit" }), h("th", { text: "Duration" }), h("th", { text: "Started" }))),
                                              h("tbody", {}, builds.slice(0, BUILDS_SHOWN).map((b) => h("tr", { dataset: { build: b.id } },
                                                      h("td", {}, h("a", { href: href(b), text: `#${b.id}` })),
                                                      h("td", {}, badge(b.status)),
                                                      h("td", { text: b.trigger }),
                                                      h("td", {}, h("code", { text: b.short_commit || "" }), " ", h("span", { class: "subject", text: b.commit_subject || "" })),
                                                      h("td", { text: fmtDuration(b.duration_sec) }),
                                                      h("td", { class: "muted", text: fmtAge(b.started_at || b.created_at) })))))
                                          : h("p", { class: "empty", text: "No build yet." }));
        }

        async function refresh(force) {
                clearTimeout(timer);
                if (stopped)
                        return;
                try {
                        const data = await load();
                        const key = JSON.stringify([data.comp, data.builds, [...data.urls], data.pending, commits && commits.commits, webhook && webhook.url]);
                        if (force || key !== last) {
                                last = key;
                                render(data);
                        }
                        const busy = data.builds.some((b) => b.status === "queued" || b.status === "running") ||
                                     data.comp.environments.some((e) => (e.releases || []).some((r) => r.status === "pending" || r.status === "deploying"));
                        if (!stopped)
                                timer = setTimeout(refresh, busy ? REFRESH_MS : REFRESH_MS * 3);
                } catch (e) {
                        if (force)
                                throw e;
                        showError(err, e);
                        if (!stopped)
                                timer = setTimeout(refresh, REFRESH_MS * 3);
                }
        }

        await refresh(true);
        return () => {
                stopped = true;
                clearTimeout(timer);
        };
}
