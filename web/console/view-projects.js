// The projects list (with the create form) and a project's overview: its environments in promotion order
// and its components with what is live in each, with the create-component and create-environment forms.
import { h, field, form, card, badge, shortDigest, fmtAge, replace } from "./dom.js";
import * as api from "./api.js";

export function envOrder(envs) {
        return [...envs].sort((a, b) => a.position - b.position);
}

export async function projectsView(root, params, app) {
        const { projects } = await api.get("projects");
        app.title("Projects");
        const rows = projects.map((p) =>
                h("tr", {},
                  h("td", {}, h("a", { href: `#/projects/${api.enc(p.name)}`, text: p.name })),
                  h("td", { text: envOrder(p.environments).map((e) => e.name).join(" → ") }),
                  h("td", { class: "num", text: p.components }),
                  h("td", { class: "num", text: p.instances })));
        root.appendChild(card("Projects",
                              projects.length ? h("table", { class: "list" },
                                                  h("thead", {}, h("tr", {}, h("th", { text: "Project" }), h("th", { text: "Environments" }),
                                                                   h("th", { class: "num", text: "Components" }), h("th", { class: "num", text: "Instances" }))),
                                                  h("tbody", {}, rows))
                                              : h("p", { class: "empty", text: "No project yet." })));
        if (!api.isAdmin())
                return; /* projects are an admin's to make */
        const name = h("input", { name: "name", required: true, placeholder: "shop" });
        const envs = h("input", { name: "envs", placeholder: "development,production" });
        root.appendChild(card("Create project",
                              form([field("Name", name), field("Environments", envs, "In promotion order; empty: development, production.")],
                                   "Create project", async () => {
                                           const body = { name: name.value.trim() };
                                           if (envs.value.trim())
                                                   body.envs = envs.value.split(",").map((s) => s.trim()).filter(Boolean);
                                           await api.api("POST", "projects", body);
                                           app.go(`#/projects/${api.enc(body.name)}`);
                                   }, "create-project")));
}

// What is live of component c in each environment, from GET …/components/C.
export function liveCell(env) {
        if (!env || !env.live)
                return h("span", { class: "muted", text: "nothing live" });
        return h("span", {}, badge(env.live.status), " ", h("code", { text: shortDigest(env.live.image_digest) }), " ",
                 h("span", { class: "muted", text: fmtAge(env.live.created_at) }));
}

export async function projectView(root, { project }, app) {
        const [p, { components }] = await Promise.all([api.get(`projects/${api.enc(project)}`),
                                                        api.get(`projects/${api.enc(project)}/components`)]);
        const envs = envOrder(p.environments);
        app.title(project);
        const shows = await Promise.all(components.map((c) => api.get(api.compPath(project, c.name)).catch(() => null)));

        root.appendChild(h("nav", { class: "crumbs" }, h("a", { href: "#/projects", text: "Projects" }), " / ", h("span", { text: project })));
        root.appendChild(card("Environments",
                              h("ol", { class: "envs-order" }, envs.map((e) =>
                                      h("li", {}, h("strong", { text: e.name }), " ",
                                        h("span", { class: "muted", text: `ingress :${e.ingress_port}${e.domain ? " · " + e.domain : ""}${e.egress ? " · egress" : ""}${e.protected ? " · protected" : ""}` }))))));
        const table = h("table", { class: "list components" },
                        h("thead", {}, h("tr", {}, h("th", { text: "Component" }), h("th", { text: "Source" }),
                                         envs.map((e) => h("th", { text: e.name })))),
                        h("tbody", {}, components.map((c, i) => {
                                const byEnv = new Map(((shows[i] && shows[i].environments) || []).map((e) => [e.name, e]));
                                return h("tr", {},
                                         h("td", {}, h("a", { href: `#/projects/${api.enc(project)}/components/${api.enc(c.name)}`, text: c.name })),
                                         h("td", { class: "muted", text: c.source ? `git ${c.source.url} (${c.source.branch})` : `image ${c.image}` }),
                                         envs.map((e) => h("td", {}, liveCell(byEnv.get(e.name)))));
                        })));
        root.appendChild(card("Components", components.length ? table : h("p", { class: "empty", text: "No component yet." })));
        if (!api.isAdmin())
                return; /* components and environments are an admin's to make */
        root.appendChild(createComponentForm(project, app));
        root.appendChild(createEnvForm(project, envs, app));
}

function createComponentForm(project, app) {
        const name = h("input", { name: "name", required: true, placeholder: "web" });
        const kind = h("select", { name: "kind" }, h("option", { value: "git", text: "Git repository" }), h("option", { value: "image", text: "Image" }));
        const git = h("input", { name: "git", placeholder: "https://git.example.com/team/web.git or /srv/repos/web" });
        const branch = h("input", { name: "branch", placeholder: "main" });
        const dir = h("input", { name: "dir", placeholder: "(repository root)" });
        const dockerfile = h("input", { name: "dockerfile", placeholder: "Dockerfile" });
        const image = h("input", { name: "image", placeholder: "busybox:1" });
        const endpoint = h("input", { name: "endpoint", placeholder: "web:8080 (NAME:PORT[:public|project][:/BASEPATH], comma separated)" });
        const health = h("input", { name: "health", placeholder: "http:/healthz, tcp or none" });
        const configs = h("input", { name: "configs", placeholder: "DATABASE_URL, API_KEY:secret, DEBUG:optional" });
        const gitFields = h("div", { class: "group" }, field("Repository", git), field("Branch", branch), field("Sub-directory", dir), field("Dockerfile", dockerfile));
        const imageFields = h("div", { class: "group hidden" }, field("Image", image, "An image from the Images page."));
        kind.addEventListener("change", () => {
                gitFields.classList.toggle("hidden", kind.value !== "git");
                imageFields.classList.toggle("hidden", kind.value !== "image");
        });
        return card("Create component",
                    form([field("Name", name), field("Kind", kind), gitFields, imageFields, field("Endpoints", endpoint), field("Health check", health),
                          field("Configurables", configs, "NAME[:secret][:optional][:file=PATH], comma separated: what each environment must set.")],
                         "Create component", async () => {
                                 const body = { name: name.value.trim() };
                                 if (kind.value === "git") {
                                         body.git = git.value.trim();
                                         for (const [k, el] of [["branch", branch], ["dir", dir], ["dockerfile", dockerfile]])
                                                 if (el.value.trim())
                                                         body[k] = el.value.trim();
                                 } else
                                         body.image = image.value.trim();
                                 if (endpoint.value.trim())
                                         body.endpoints = endpoint.value.split(",").map((s) => s.trim()).filter(Boolean);
                                 if (health.value.trim())
                                         body.health = health.value.trim();
                                 if (configs.value.trim())
                                         body.configs = configs.value.split(",").map((s) => s.trim()).filter(Boolean);
                                 await api.api("POST", `projects/${api.enc(project)}/components`, body);
                                 app.go(`#/projects/${api.enc(project)}/components/${api.enc(body.name)}`);
                         }, "create-component"));
}

function createEnvForm(project, envs, app) {
        const name = h("input", { name: "name", required: true, placeholder: "staging" });
        const after = h("select", { name: "after" }, h("option", { value: "", text: "(last)" }), envs.map((e) => h("option", { value: e.name, text: e.name })));
        return card("Create environment",
                    form([field("Name", name), field("After", after, "Its place in the promotion order.")], "Create environment", async () => {
                            const body = { name: name.value.trim() };
                            if (after.value)
                                    body.after = after.value;
                            await api.api("POST", `projects/${api.enc(project)}/environments`, body);
                            app.reload();
                    }, "create-env"));
}
