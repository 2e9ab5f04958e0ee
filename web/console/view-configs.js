// Manage Configs and Secrets of one component in one environment (and the project-wide values of that
// environment): add, edit, delete.  A secret is write-only: the API never returns its value, and the console
// never puts one anywhere but in the request that sets it; it shows "set", its version and when.
import { h, field, openDialog, replace, fmtAge, showError, errorBox, confirmButton } from "./dom.js";
import * as api from "./api.js";

// The component's configurables that have no value in env (component or project-wide): [{name, secret}].
export async function missingConfigs(project, comp, env) {
        const declared = (comp.spec.configs || []).filter((c) => !c.optional);
        if (!declared.length)
                return [];
        const { configs } = await api.get(api.configsPath(project, comp.name, env) + "?effective=1");
        const have = new Set(configs.map((c) => c.key));
        return declared.filter((c) => !have.has(c.name)).map((c) => ({ name: c.name, secret: c.secret, file: c.file }));
}

// Sets one value (PUT); body {value, secret, file?}.
export function setConfig(project, compName, env, key, value, secret, file) {
        const body = { value, secret: !!secret };
        if (file)
                body.file = file;
        return api.api("PUT", api.configsPath(project, compName, env, key), body);
}

function valueText(row) {
        if (row.secret)
                return h("span", { class: "secret-set", text: `secret · set · v${row.version}` });
        if (row.value !== undefined)
                return h("code", { class: "value", text: row.value });
        return h("span", { class: "muted", text: `${row.size} bytes (binary)` });
}

export function manageConfigs(project, comp, env, onChange) {
        const body = h("div", { class: "configs" }, h("p", { class: "muted", text: "Loading…" }));
        const writable = api.canWrite();
        const dlg = openDialog(`Configs and secrets of ${comp.name} in ${env}`, body, [{ label: "Close", primary: true }]);
        dlg.classList.add("wide");

        async function load() {
                const [own, shared] = await Promise.all([api.get(api.configsPath(project, comp.name, env)),
                                                         api.get(api.configsPath(project, null, env))]);
                const declared = comp.spec.configs || [];
                const rows = [...own.configs.map((r) => ({ ...r, scope: "component" })),
                              ...shared.configs.map((r) => ({ ...r, scope: "project" }))];
                const setKeys = new Set(rows.map((r) => r.key));
                const table = h("table", { class: "list" },
                                h("thead", {}, h("tr", {}, h("th", { text: "Key" }), h("th", { text: "Value" }), h("th", { text: "Kind" }),
                                                 h("th", { text: "Scope" }), h("th", { text: "Set" }), h("th", {}))),
                                h("tbody", {}, rows.map((r) => h("tr", { dataset: { key: r.key } },
                                        h("td", {}, h("code", { text: r.key })),
                                        h("td", {}, valueText(r)),
                                        h("td", { text: r.kind === "file" ? `file ${r.path}` : "env" }),
                                        h("td", { text: r.scope === "project" ? "project-wide" : comp.name }),
                                        h("td", { class: "muted", text: fmtAge(r.set_at) }),
                                        h("td", { class: "row-actions" }, writable ? [
                                                h("button", { type: "button", class: "small edit", text: "Edit", onclick: () => edit(r) }),
                                                confirmButton("Delete", "Really delete?", () => remove(r), "small danger delete"),
                                        ] : null)))));
                const missing = declared.filter((c) => !c.optional && !setKeys.has(c.name));
                replace(body,
                        rows.length ? table : h("p", { class: "empty", text: "No value set in this environment." }),
                        missing.length ? h("p", { class: "warn", text: `Required without a value here: ${missing.map((c) => c.name).join(", ")}.` }) : null,
                        writable ? addForm(declared) : null);
        }

        function addForm(declared, row) {
                const key = h("input", { name: "key", required: true, placeholder: "DATABASE_URL", value: row ? row.key : "", list: "declared-configs" });
                const value = h("textarea", { name: "value", rows: 2, placeholder: row && row.secret ? "new value (the current one is never shown)" : "value" });
                if (row && !row.secret && row.value !== undefined)
                        value.value = row.value;
                const secret = h("input", { type: "checkbox", name: "secret", checked: row ? row.secret : false });
                const file = h("input", { name: "file", placeholder: "(environment variable)", value: row && row.path ? row.path : "" });
                const scope = h("select", { name: "scope" }, h("option", { value: "component", text: comp.name }), h("option", { value: "project", text: "project-wide" }));
                if (row) {
                        scope.value = row.scope;
                        key.readOnly = true;
                        scope.disabled = true;
                }
                key.addEventListener("change", () => {
                        const d = declared.find((c) => c.name === key.value);
                        if (d && !row)
                                secret.checked = d.secret;
                });
                const err = errorBox(null);
                const save = h("button", { type: "submit", class: "primary", text: row ? "Save" : "Add" });
                const f = h("form", { class: "form config-form" },
                            h("h3", { text: row ? `Edit ${row.key}` : "Add a value" }),
                            h("datalist", { id: "declared-configs" }, declared.map((c) => h("option", { value: c.name }))),
                            field("Key", key), field("Value", value), h("label", { class: "check" }, secret, " secret (write-only)"),
                            field("Mount as file at", file), field("Scope", scope), h("div", { class: "actions" }, save), err);
                f.addEventListener("submit", async (ev) => {
                        ev.preventDefault();
                        save.disabled = true;
                        showError(err, null);
                        try {
                                await setConfig(project, scope.value === "project" ? null : comp.name, env, key.value.trim(), value.value,
                                                secret.checked, file.value.trim());
                                value.value = "";
                                await load();
                                onChange && onChange();
                        } catch (e) {
                                showError(err, e);
                        } finally {
                                save.disabled = false;
                        }
                });
                return f;
        }

        function edit(row) {
                const old = body.querySelector(".config-form");
                const f = addForm(comp.spec.configs || [], row);
                old ? old.replaceWith(f) : body.appendChild(f);
                f.querySelector("textarea").focus();
        }

        async function remove(row) {
                try {
                        await api.api("DELETE", api.configsPath(project, row.scope === "project" ? null : comp.name, env, row.key));
                        await load();
                        onChange && onChange();
                } catch (e) {
                        body.prepend(errorBox(e));
                }
        }

        load().catch((e) => replace(body, errorBox(e)));
}
