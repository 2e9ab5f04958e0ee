// DOM helpers of the console.  Every piece of data reaches the page as a text node or a property, never as
// markup: there is no innerHTML anywhere in the console, so a commit message or a config value that holds
// "<script>" shows as those characters.

// h("div", {class: "card", onclick: f, dataset: {x: 1}}, child, "text", [more children]) makes an element.
export function h(tag, attrs, ...children) {
        const el = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
                if (v === undefined || v === null || v === false)
                        continue;
                if (k === "class")
                        el.className = Array.isArray(v) ? v.filter(Boolean).join(" ") : v;
                else if (k === "text")
                        el.textContent = v;
                else if (k.startsWith("on") && typeof v === "function")
                        el.addEventListener(k.slice(2), v);
                else if (k === "dataset")
                        Object.assign(el.dataset, v);
                else if (k in el && typeof v !== "string")
                        el[k] = v;
                else
                        el.setAttribute(k, v === true ? "" : String(v));
        }
        append(el, children);
        return el;
}

export function append(el, children) {
        for (const c of children.flat(Infinity)) {
                if (c === null || c === undefined || c === false)
                        continue;
                el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
        }
        return el;
}

export function clear(el) {
        while (el.firstChild)
                el.removeChild(el.firstChild);
        return el;
}

export function replace(el, ...children) {
        return append(clear(el), children);
}

// --- formatting

export function fmtAge(sec) {
        if (!sec)
                return "—";
        const d = Math.max(0, Math.floor(Date.now() / 1000 - sec));
        if (d < 60)
                return `${d} s ago`;
        if (d < 3600)
                return `${Math.floor(d / 60)} min ago`;
        if (d < 86400)
                return `${Math.floor(d / 3600)} h ago`;
        return `${Math.floor(d / 86400)} d ago`;
}

export function fmtTime(sec) {
        return sec ? new Date(sec * 1000).toLocaleString() : "—";
}

export function fmtDuration(sec) {
        if (sec === null || sec === undefined)
                return "—";
        if (sec < 60)
                return `${sec} s`;
        return `${Math.floor(sec / 60)} min ${sec % 60} s`;
}

// Step times are in microseconds.
export function fmtStepTime(step) {
        if (!step.started_at)
                return "";
        const end = step.finished_at || Date.now() * 1000;
        const ms = Math.max(0, Math.round((end - step.started_at) / 1000));
        return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function fmtBytes(n) {
        if (n === null || n === undefined)
                return "—";
        const units = ["B", "KiB", "MiB", "GiB", "TiB"];
        let i = 0;
        while (n >= 1024 && i < units.length - 1) {
                n /= 1024;
                i++;
        }
        return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export function shortDigest(d) {
        return d ? d.replace(/^sha256:/, "").slice(0, 12) : "—";
}

// A coloured word for a status (build, step, release, instance).
export function badge(status) {
        return h("span", { class: ["badge", `st-${String(status || "none").replace(/[^a-z-]/g, "")}`], text: status || "none" });
}

// --- widgets

export function copyButton(text, label = "Copy") {
        const b = h("button", { type: "button", class: "small", text: label });
        b.addEventListener("click", async () => {
                try {
                        await navigator.clipboard.writeText(typeof text === "function" ? text() : text);
                        b.textContent = "Copied";
                } catch (e) {
                        b.textContent = "Select and copy";
                }
                setTimeout(() => (b.textContent = label), 1500);
        });
        return b;
}

// The sentence an API error says, and its hint.
export function errorBox(err) {
        if (!err)
                return h("div", { class: "error hidden", role: "alert" });
        return h("div", { class: "error", role: "alert" }, h("span", { class: "msg", text: err.message || String(err) }),
                 err.hint ? h("span", { class: "hint", text: " " + err.hint }) : null);
}

export function showError(box, err) {
        box.className = err ? "error" : "error hidden";
        replace(box, ...(err ? [h("span", { class: "msg", text: err.message || String(err) }),
                                err.hint ? h("span", { class: "hint", text: " " + err.hint }) : null] : []));
}

// A modal dialog: content nodes and buttons [{label, primary, onclick(dialog) -> false keeps it open}].
export function openDialog(title, content, buttons) {
        const err = errorBox(null);
        const dlg = h("dialog", { class: "dialog" });
        const form = h("form", { method: "dialog" },
                       h("h2", { text: title }), content, err,
                       h("div", { class: "actions dialog-actions" }, buttons.map((b) => {
                               const btn = h("button", { type: b.primary ? "submit" : "button", class: b.primary ? "primary" : "", text: b.label });
                               if (!b.primary)
                                       btn.addEventListener("click", async () => {
                                               if (!b.onclick || (await b.onclick(dlg, err)) !== false)
                                                       close();
                                       });
                               return btn;
                       })));
        const primary = buttons.find((b) => b.primary);
        form.addEventListener("submit", async (ev) => {
                ev.preventDefault();
                if (ev.target !== form)
                        return; /* a form of the content (the config form) submitted itself */
                const btn = form.querySelector(".dialog-actions button.primary");
                btn.disabled = true;
                try {
                        showError(err, null);
                        if (!primary.onclick || (await primary.onclick(dlg, err)) !== false)
                                close();
                } catch (e) {
                        showError(err, e);
                } finally {
                        btn.disabled = false;
                }
        });
        function close() {
                dlg.close();
                dlg.remove();
        }
        dlg.addEventListener("cancel", () => setTimeout(close));
        dlg.appendChild(form);
        document.body.appendChild(dlg);
        dlg.showModal();
        return dlg;
}

// A labelled form field.
export function field(label, input, note) {
        return h("label", { class: "field" }, h("span", { class: "label", text: label }), input,
                 note ? h("span", { class: "note", text: note }) : null);
}

// A form whose submit runs fn(values); its error box shows what the API said.
export function form(fields, submitLabel, fn, cls) {
        const err = errorBox(null);
        const btn = h("button", { type: "submit", class: "primary", text: submitLabel });
        const f = h("form", { class: ["form", cls] }, fields, h("div", { class: "actions" }, btn), err);
        f.addEventListener("submit", async (ev) => {
                ev.preventDefault();
                btn.disabled = true;
                showError(err, null);
                try {
                        await fn(f);
                } catch (e) {
                        showError(err, e);
                } finally {
                        btn.disabled = false;
                }
        });
        return f;
}

export function card(title, ...children) {
        return h("section", { class: "card" }, title ? h("h2", { text: title }) : null, children);
}

// A button that asks once more before it acts (no window.confirm: it works the same with any input).
export function confirmButton(label, again, fn, cls) {
        const b = h("button", { type: "button", class: cls, text: label });
        let armed = false, timer = null;
        b.addEventListener("click", async () => {
                if (!armed) {
                        armed = true;
                        b.textContent = again;
                        b.classList.add("armed");
                        timer = setTimeout(() => {
                                armed = false;
                                b.textContent = label;
                                b.classList.remove("armed");
                        }, 4000);
                        return;
                }
                clearTimeout(timer);
                b.disabled = true;
                try {
                        await fn();
                } finally {
                        b.disabled = false;
                }
        });
        return b;
}
