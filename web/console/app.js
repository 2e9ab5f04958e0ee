// The console's shell: hash routes to views, the header with the user and Logout, and the login gate.
// A view is async (root, params, app) and may return a function that stops what it started (timers,
// streams) when the page changes.
import { h, replace, errorBox } from "./dom.js";
import * as api from "./api.js";
import { loginView } from "./view-auth.js";
import { projectsView, projectView } from "./view-projects.js";
import { componentView } from "./view-component.js";
import { buildView } from "./view-build.js";
import { imagesView, statusView } from "./view-system.js";
import { approvalsView } from "./view-approvals.js";

const SEG = "([^/]+)";
const routes = [
        [new RegExp("^/login$"), [], loginView],
        [new RegExp("^/(?:projects)?$"), [], projectsView],
        [new RegExp(`^/projects/${SEG}$`), ["project"], projectView],
        [new RegExp(`^/projects/${SEG}/components/${SEG}$`), ["project", "component"], componentView],
        [new RegExp(`^/projects/${SEG}/components/${SEG}/builds/(\\d+)$`), ["project", "component", "build"], buildView],
        [new RegExp("^/approvals(?:\\?all=(1))?$"), ["all"], approvalsView],
        [new RegExp("^/images$"), [], imagesView],
        [new RegExp("^/status$"), [], statusView],
];

const main = document.getElementById("view");
const userBox = document.getElementById("user");
let cleanup = null, seq = 0, after = null;

const app = {
        go(hash) {
                if (location.hash === hash)
                        show();
                else
                        location.hash = hash;
        },
        reload() {
                show();
        },
        title(t) {
                document.title = `${t} · Slipway`;
        },
        loggedIn() {
                renderUser();
                const to = after && after !== "#/login" ? after : "#/";
                after = null;
                app.go(to);
        },
};

function renderUser() {
        if (!api.session.user) {
                replace(userBox);
                return;
        }
        const out = h("button", { type: "button", class: "small logout", text: "Log out" });
        out.addEventListener("click", async () => {
                await api.logout().catch(() => {});
                renderUser();
                app.go("#/login");
        });
        replace(userBox, h("span", { class: "who", text: api.session.user }), " ", h("span", { class: "role", text: api.session.role }), " ", out);
}

api.setUnauthorizedHandler(() => {
        Object.assign(api.session, { user: null, role: null, csrf_token: null });
        renderUser();
        toLogin();
});

function toLogin() {
        if (location.hash !== "#/login") {
                after = location.hash;
                location.hash = "#/login";
        }
}

// isKnown (optional): false while GET /session is still in flight; the view then starts anyway.
async function show(isKnown) {
        const mine = ++seq;
        if (cleanup) {
                try {
                        cleanup();
                } catch (e) {
                        /* a view's cleanup failing must not stop the next view */
                }
                cleanup = null;
        }
        delete document.body.dataset.ready;
        const path = (location.hash || "#/").slice(1) || "/";
        const pending = typeof isKnown === "function" && !isKnown();
        if (!pending && !api.session.user && path !== "/login") {
                toLogin();
                return;
        }
        for (const a of document.querySelectorAll("header nav a"))
                a.classList.toggle("active", path.startsWith(a.getAttribute("href").slice(1)));
        const root = h("div", { class: "page" });
        replace(main, root);
        for (const [re, names, view] of routes) {
                const m = path.match(re);
                if (!m)
                        continue;
                const params = {};
                names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
                try {
                        const stop = await view(root, params, app);
                        if (mine !== seq) {
                                if (typeof stop === "function")
                                        stop();
                                return;
                        }
                        cleanup = typeof stop === "function" ? stop : null;
                } catch (e) {
                        if (mine === seq && e.status !== 401)
                                root.appendChild(errorBox(e));
                }
                if (mine === seq)
                        document.body.dataset.ready = "1";
                return;
        }
        root.appendChild(errorBox({ message: "No such page in the console.", hint: "Go back to the projects list." }));
        document.body.dataset.ready = "1";
}

// The session and the first view load side by side: the view's answers wait for the session (api.js),
// and a page that is not logged in goes to the login form once GET /session says so.
function start() {
        let known = false;
        const session = api.loadSession().then((ok) => {
                known = true;
                if (ok)
                        renderUser();
                else
                        toLogin();
        }, (e) => {
                known = true;
                main.appendChild(errorBox(e));
        });
        window.addEventListener("hashchange", show);
        const path = (location.hash || "#/").slice(1) || "/";
        if (path === "/login")
                session.then(show);
        else
                show(() => known);
}

start();
