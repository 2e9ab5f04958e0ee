// Promotion requests into protected environments: every role sees them; an admin approves (the exact image
// requested goes to the target with its values now) or rejects with a reason.  A developer's Promote into a
// protected environment lands here (view-envs.js).
import { h, card, badge, shortDigest, fmtAge, field, openDialog, confirmButton, errorBox, showError } from "./dom.js";
import * as api from "./api.js";

const REASON_MAX = 1000;

export async function approvalsView(root, params, app) {
        const all = params.all === "1";
        const err = errorBox(null);
        const { approvals } = await api.get(all ? "approvals?all=1" : "approvals");
        app.title("Approvals");
        const toggle = h("a", { href: all ? "#/approvals" : "#/approvals?all=1", class: "small toggle-all", text: all ? "Pending only" : "Show decided too" });
        root.appendChild(err);
        root.appendChild(card(all ? "Promotion requests" : "Promotion requests waiting",
                              h("p", { class: "muted" }, api.isAdmin() ? "Approving deploys exactly the image requested, with the target's values now. " : "An admin approves or rejects these. ", toggle),
                              approvals.length ? table(approvals, err, app) : h("p", { class: "empty", text: all ? "No promotion request yet." : "Nothing waits for an approval." })));
}

function table(approvals, err, app) {
        return h("table", { class: "list approvals" },
                 h("thead", {}, h("tr", {}, h("th", { text: "Request" }), h("th", { text: "Component" }), h("th", { text: "Promotion" }), h("th", { text: "Image" }),
                                  h("th", { text: "Requested" }), h("th", { text: "Status" }), h("th", {}))),
                 h("tbody", {}, approvals.map((a) => h("tr", { dataset: { approval: a.id } },
                         h("td", { text: `#${a.id}` }),
                         h("td", {}, h("a", { href: `#/projects/${api.enc(a.project)}/components/${api.enc(a.component)}`, text: `${a.project}/${a.component}` })),
                         h("td", { text: `${a.from} → ${a.to}` }),
                         h("td", {}, h("code", { text: shortDigest(a.image_digest) })),
                         h("td", { class: "muted", text: `${a.requested_by}, ${fmtAge(a.requested_at)}` }),
                         h("td", {}, badge(a.status), decided(a)),
                         h("td", { class: "actions" }, a.status === "pending" && api.isAdmin() ? [
                                 confirmButton("Approve", "Approve and deploy?", () => approve(a, err, app), "small primary approve"), " ",
                                 h("button", { type: "button", class: "small reject", text: "Reject", onclick: () => reject(a, app) })] : null)))));
}

function decided(a) {
        if (!a.decided_by)
                return null;
        const parts = [`by ${a.decided_by}${a.decided_at ? ", " + fmtAge(a.decided_at) : ""}`];
        if (a.release_id)
                parts.push(`release ${a.release_id}${a.release_status ? " (" + a.release_status + ")" : ""}`);
        if (a.reason)
                parts.push(a.reason);
        return h("div", { class: "muted small decision", text: parts.join(" · ") });
}

async function approve(a, err, app) {
        try {
                await api.api("POST", `approvals/${a.id}/approve`, {});
        } catch (e) {
                showError(err, e);
                return;
        }
        app.reload();
}

function reject(a, app) {
        const reason = h("textarea", { name: "reason", maxlength: REASON_MAX, rows: 3, class: "reject-reason" });
        openDialog(`Reject request #${a.id}`,
                   h("div", {}, h("p", { text: `${a.project}/${a.component} stays as it is in ${a.to}; ${a.requested_by} sees the reason.` }),
                     field("Reason (optional)", reason)),
                   [{ label: "Cancel" },
                    {
                            label: "Reject", primary: true, onclick: async () => {
                                    await api.api("POST", `approvals/${a.id}/reject`, reason.value ? { reason: reason.value } : {});
                                    app.reload();
                            },
                    }]);
}
