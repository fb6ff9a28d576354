/*
 * aefarm submitter panel for Adobe After Effects (ScriptUI, ExtendScript/ES3).
 *
 * Install: copy this file and the folder aefarm_lib/ next to each other into After Effects'
 * "Scripts/ScriptUI Panels" folder, restart After Effects, open Window > aefarm_panel.jsx (dockable); or run it
 * from File > Scripts > Run Script File (a floating window). It needs aefarm installed on this machine (found on
 * PATH, or set its path in Settings) and, for scripts to start processes, Preferences > Scripting & Expressions >
 * "Allow Scripts to Write Files and Access Network".
 *
 * This file is only the user interface: every decision (items, frames, checks, command lines, quoting, scripts,
 * report reading) is in aefarm_lib/*.jsxinc, which the Node tests run against a fake After Effects object model.
 */
(function (thisObj) {
    var LIB = ["core", "json", "quote", "project", "commands", "scripts", "status", "host", "submit"];
    var libFolder = new File($.fileName).parent.fsName + "/aefarm_lib/";
    for (var f = 0; f < LIB.length; f++) {
        $.evalFile(new File(libFolder + LIB[f] + ".jsxinc"));
    }
    var L = $.global.AefarmLib;
    var TARGET_LABELS = ["Local (this machine)", "accsyn", "Deadline Cloud"];
    var SUBMIT_LABELS = ["Render", "Submit to accsyn", "Submit to Deadline"];

    var state = {items: [], settings: L.loadSettings(app.settings), run: null, task: null};
    var os = L.osFamily($.os);

    function context() {
        return {app: app, io: L.fileIO(), os: os, settings: state.settings, callSystem: function (line) {
            return system.callSystem(line);
        }, confirm: function (text) {
            return confirm(text);
        }, now: function () {
            return new Date();
        }, tempDir: L.joinPath(os, Folder.temp.fsName, "aefarm-panel")};
    }

    // ---------------------------------------------------------------------------------------------- layout
    var win = thisObj instanceof Panel ? thisObj : new Window("palette", "aefarm", undefined, {resizeable: true});
    win.orientation = "column";
    win.alignChildren = ["fill", "top"];
    win.spacing = 6;
    win.margins = 8;

    var top = win.add("group");
    top.add("statictext", undefined, "Target:");
    var targetList = top.add("dropdownlist", undefined, TARGET_LABELS);
    var groupingList = top.add("dropdownlist", undefined, ["All selected items in one submission",
        "One job per item"]);
    var refreshButton = top.add("button", undefined, "Refresh");
    var settingsButton = top.add("button", undefined, "Settings...");

    var list = win.add("listbox", undefined, [], {multiselect: true, numberOfColumns: 4, showHeaders: true,
        columnTitles: ["RQ", "Comp", "Frames", "Output"], columnWidths: [36, 160, 90, 320]});
    list.preferredSize = [620, 180];
    list.alignment = ["fill", "fill"];

    var framesRow = win.add("group");
    framesRow.add("statictext", undefined, "Frames of the selected items:");
    var framesEdit = framesRow.add("edittext", undefined, "");
    framesEdit.characters = 24;
    framesEdit.helpTip = "1-100, 1-100x5, 1-10 20 30 (checked with aefarm frames)";
    var checkButton = framesRow.add("button", undefined, "Check");

    var actions = win.add("group");
    var submitButton = actions.add("button", undefined, "Render");
    var cancelButton = actions.add("button", undefined, "Cancel render");
    var forceButton = actions.add("button", undefined, "Force stop");
    var progress = win.add("progressbar", undefined, 0, 100);
    progress.alignment = ["fill", "top"];
    var statusText = win.add("edittext", undefined, "", {multiline: true, readonly: true, scrolling: true});
    statusText.preferredSize = [620, 110];
    statusText.alignment = ["fill", "fill"];

    function say(text) {
        statusText.text = text;
    }

    function targetKey() {
        return L.TARGETS[targetList.selection ? targetList.selection.index : 0];
    }

    function selectedItems() {
        var out = [];
        for (var i = 0; i < list.items.length; i++) {
            if (list.items[i].selected) {
                out.push(state.items[i]);
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------- items
    function refresh() {
        if (!app.project) {
            say("No project is open.");
            return;
        }
        state.items = L.listRenderItems(app.project);
        list.removeAll();
        for (var i = 0; i < state.items.length; i++) {
            var item = state.items[i];
            var row = list.add("item", String(item.index));
            row.subItems[0].text = item.compName;
            row.subItems[1].text = item.error ? "(" + item.error + ")" : item.frameSpec;
            row.subItems[2].text = item.outputs.length ? item.outputs[0].path : "(no output module)";
            row.selected = item.queued;
        }
        say(state.items.length ? state.items.length + " render-queue items; queued ones are selected." :
            "The render queue is empty: add comps to it (Composition > Add to Render Queue).");
    }

    list.onChange = function () {
        var chosen = selectedItems();
        framesEdit.text = chosen.length === 1 ? chosen[0].frameSpec : "";
    };

    framesEdit.onChange = function () {
        var chosen = selectedItems();
        for (var i = 0; i < chosen.length; i++) {
            chosen[i].frameSpec = framesEdit.text;
            list.items[L.indexOf(state.items, chosen[i])].subItems[1].text = framesEdit.text;
        }
    };

    checkButton.onClick = function () {
        var result = L.checkFrames(context(), context().tempDir, framesEdit.text, "frames-check");
        say(result.ok ? framesEdit.text + ": " + result.count + " frames (" + result.spec + ")" : result.message);
    };

    // ---------------------------------------------------------------------------------------------- runs
    function stopPolling() {
        if (state.task !== null) {
            app.cancelTask(state.task);
            state.task = null;
        }
    }

    function showRun() {
        if (!state.run) {
            return;
        }
        var status = L.pollRun(context(), state.run);
        var lines = ["Local render " + state.run.id + ": " + status.state + " " + status.done + "/" + status.total +
            " frames"];
        for (var i = 0; i < status.items.length; i++) {
            lines.push(L.describeItem(status.items[i]));
        }
        if (status.message) {
            lines.push(status.message);
        }
        progress.value = status.total ? Math.floor(100 * status.done / status.total) : 0;
        say(lines.join("\n"));
        if (status.finished) {
            stopPolling();
        }
    }

    $.global.AefarmPanelPoll = function () {
        try {
            showRun();
        } catch (e) {
            stopPolling();
            say("Progress could not be read: " + e.message);
        }
    };

    function startPolling() {
        stopPolling();
        state.task = app.scheduleTask("AefarmPanelPoll()", 2000, true);
    }

    submitButton.onClick = function () {
        var target = targetKey();
        var items = selectedItems();
        state.settings.target = target;
        state.settings.grouping = groupingList.selection && groupingList.selection.index === 1 ? "perItem" :
            "together";
        L.saveSettings(app.settings, state.settings);
        try {
            say("Checking...");
            var ctx = context();
            var job = L.prepareJob(ctx, target, items);
            if (!job.ok) {
                say("Not submitted:\n" + L.problemText(job.problems));
                return;
            }
            var warnings = job.problems.length ? "\n" + L.problemText(job.problems) : "";
            if (target === "local") {
                state.run = L.startLocal(ctx, job, items);
                state.settings.lastRun = job.layout.manifest;
                L.saveSettings(app.settings, state.settings);
                say("Started: " + job.layout.dir + warnings);
                startPolling();
                return;
            }
            var results = L.submitFarm(ctx, job, items);
            var lines = [];
            for (var i = 0; i < results.length; i++) {
                lines.push("rq " + results[i].index + " " + results[i].compName + ": " + results[i].message +
                    (results[i].ok && L.lastLine(results[i].output) ? " - " + L.lastLine(results[i].output) : ""));
            }
            say(lines.join("\n") + "\nJob folder: " + job.layout.dir + warnings);
        } catch (e) {
            say(e.aefarm ? e.message : "Unexpected error: " + e.message + " (line " + e.line + ")");
        }
    };

    function cancel(force) {
        if (!state.run) {
            say("No local render is running from this panel.");
            return;
        }
        if (force && !confirm("Force stop kills aefarm and its aerender processes at once; frames being written " +
                "are lost. Continue?")) {
            return;
        }
        L.cancelRun(context(), state.run, force);
        startPolling();
    }

    cancelButton.onClick = function () {
        cancel(false);
    };
    forceButton.onClick = function () {
        cancel(true);
    };

    // ---------------------------------------------------------------------------------------------- settings
    var SETTING_LABELS = [["aefarmPath", "aefarm executable"], ["jobRoot", "Job folder root (empty: beside project)"],
        ["concurrency", "Local: concurrency (auto or N)"], ["aerenderPath", "Local: aerender path (empty: discover)"],
        ["collectFonts", "Farm: collect fonts (true/false)"], ["accsynEngine", "accsyn: engine (app) name"],
        ["accsynFilters", "accsyn: node filters"], ["accsynBucketSize", "accsyn: bucket size"],
        ["accsynMappings", "accsyn: mappings file"], ["accsynShares", "accsyn: shares file"],
        ["deadlineAction", "Deadline: submit or bundle"], ["deadlineChunkSize", "Deadline: chunk size"],
        ["deadlinePriority", "Deadline: priority (0-100)"], ["deadlineAerender", "Deadline: aerender on workers"]];

    settingsButton.onClick = function () {
        var dialog = new Window("dialog", "aefarm settings");
        dialog.alignChildren = ["fill", "top"];
        var edits = {};
        for (var i = 0; i < SETTING_LABELS.length; i++) {
            var row = dialog.add("group");
            row.add("statictext", undefined, SETTING_LABELS[i][1]).preferredSize = [260, -1];
            edits[SETTING_LABELS[i][0]] = row.add("edittext", undefined, state.settings[SETTING_LABELS[i][0]]);
            edits[SETTING_LABELS[i][0]].characters = 40;
        }
        var buttons = dialog.add("group");
        buttons.alignment = ["right", "top"];
        buttons.add("button", undefined, "Cancel", {name: "cancel"});
        buttons.add("button", undefined, "OK", {name: "ok"});
        if (dialog.show() === 1) {
            var values = {};
            for (var key in edits) {
                if (edits.hasOwnProperty(key)) {
                    values[key] = edits[key].text;
                }
            }
            values.target = targetKey();
            values.grouping = state.settings.grouping;
            var lastRun = state.settings.lastRun;
            state.settings = L.mergeSettings(values);
            state.settings.lastRun = lastRun;
            L.saveSettings(app.settings, state.settings);
        }
    };

    targetList.onChange = function () {
        submitButton.text = SUBMIT_LABELS[targetList.selection ? targetList.selection.index : 0];
    };
    refreshButton.onClick = refresh;

    targetList.selection = L.indexOf(L.TARGETS, state.settings.target);
    groupingList.selection = state.settings.grouping === "perItem" ? 1 : 0;
    refresh();
    if (state.settings.lastRun && new File(state.settings.lastRun).exists) {
        try { // reattach to the last local render (After Effects may have been restarted meanwhile)
            state.run = L.jsonParse(L.fileIO().readText(state.settings.lastRun));
            showRun();
        } catch (e) {
            state.run = null;
        }
    }
    if (win instanceof Window) {
        win.center();
        win.show();
    } else {
        win.layout.layout(true);
        win.onResizing = win.onResize = function () {
            this.layout.resize();
        };
    }
}(this));
