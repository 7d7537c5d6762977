"""What the product says to a team member outside the message templates, in their language:
Slack's replies, buttons and forms, the offers of promises found in conversations (in Slack
and by email), and the echo of a new promise.

One table, one key per sentence, a dict per locale (en, sv, zh); placeholders in braces.
Each locale is written for its reader, not translated word for word: Swedish says du and
uses "löfte" for a promise and "leverans"/"leveransdatum" for its date; Chinese says 您 and
sets digits against characters without spaces (docs/templates.md, "Messages to the team").
Pure: no I/O, so services (the inbox) and interfaces (Slack) share it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

LOCALES = ("en", "sv", "zh")

_EN: dict[str, str] = {
    # The echo of `/promise …`, before anything is stored.
    "echo_question": "Is this right?",
    "echo_what": "*{title}* for *{client}*",
    "echo_due": "Due *{due}*",
    "echo_owner": "Owner <@{user}>",
    "echo_text": "{title} for {client}, due {due}: looks right?",
    "looks_right": "Looks right",
    "promise_instead": "Promise {day} instead",
    "change_date": "Change date",
    "cancel": "Cancel",
    "ambiguous": "“{matched}” could also mean {alternatives}: use *Change date* if so.",
    "forecast_chance": "{chance} ({percent} chance it runs late): {reason}.",
    "forecast_likely": "{who} will likely be done by {day} (80% of similar promises were).",
    "chance_0": "Very likely to be kept",
    "chance_1": "Likely to be kept",
    "chance_2": "Could go either way",
    "chance_3": "Likely to run late",
    "chance_4": "Very likely to run late",
    "newcomer": "the owner",
    "unknown_client": "*{name}* is not one of your clients yet. Add it, and I'll log "
                      "*{title}*, due {due} (in the new client's time zone).",
    "unknown_client_text": "{name} is not a client yet",
    "add_client": "Add {name} as a client",
    "cancelled": "Cancelled: nothing was logged.",
    # What went wrong, and what would work.
    "none_yet": "none yet",
    "list_separator": ", ",
    "which_client": "Which client is *{title}* for? Name one in the line, e.g. "
                    "`/promise {title} for Acme {matched}` (known clients: {known}).",
    "which_client_newcomer": "Which client is *{title}* for? Name it in the line, e.g. "
                             "`/promise {title} for Acme {matched}`.",
    "no_title": "I found the deadline ({due}) but not what is promised. Try "
                "`/promise Q3 report for Acme by Friday`.",
    "not_member": "<@{user}> is not a member of this team yet: log a promise of your own "
                  "first, which adds you, or ask an admin to add you; then you may name "
                  "others.",
    "too_long": "That line is too long for one promise: keep it to a sentence, like "
                "`/promise Q3 report for Acme by Friday`.",
    "add_client_first": "Add the client first.",
    "not_our_client": "{client} is not a client of this team: a member of the team adds "
                      "the client first; then log the promise again.",
    "mistake_client": "Start with the client's name, e.g. `/promise mistake Acme formula "
                      "error; prevent: …` (known clients: {known}).",
    "mistake_what": "Say what went wrong for {client}, then `; prevent:` and the step.",
    "watch_which": "Which client is this channel with? Say `/promise watch Acme` (known "
                   "clients: {known}).",
    "say_what": "Say what is promised.",
    "name_client": "Name the client.",
    "no_email": "I can't see <@{user}>'s email address in Slack, so I can't tell which team "
                "member this is. Ask an admin to run `reliability member add EMAIL --name "
                "NAME --slack-user {user}`.",
    "lookup_failed": "I couldn't look <@{user}> up in Slack ({error}); try again in a "
                     "minute.",
    "sorry": "Something went wrong on our side and nothing was changed. Please try again in "
             "a minute; if it keeps happening, tell whoever runs Reliability.",
    # /promise help and the notes on a line that could not be used.
    "usage_done": "`/promise done 42`",
    "usage_status": "`/promise status 42 at-risk waiting on data` (on-track, at-risk, "
                    "blocked or done; a % done and a note are optional)",
    "usage_move": "`/promise move 42 to Monday because the data came late`",
    "usage_mistake": "`/promise mistake Acme formula error in the report; prevent: second "
                     "person checks formula edits`",
    "help": "*/promise* logs and follows the promises you make to clients.\n"
            "• `/promise Q3 report for Acme by Friday`: log a promise (you own it); I echo "
            "what I understood and store it when you click *Looks right*.\n"
            "• `/promise @dana Q3 report for Acme by Friday`: log it for someone else.\n"
            "• `/promise list`: your open promises with their risk levels.\n"
            "• `/promise team`: the open promises of the people who report to you.\n"
            "• {usage_done}: mark promise #42 delivered.\n"
            "• {usage_status}: a check-in.\n"
            "• {usage_move}: renegotiate the date.\n"
            "• {usage_mistake}: own a mistake; a remediation draft and a prevention step "
            "follow.\n"
            "• `/promise watch Acme`: in a channel with Acme (a Slack Connect channel too), "
            "offer to log the promises and requests written there; `/promise unwatch` stops "
            "it.\n"
            "• Message menu → *Log as promise*: log a promise from any message.\n"
            "• `/promise help`: this list.\n"
            "Deadlines can be written in English, Swedish or Chinese: `by Friday`, "
            "`senast fredag`, `周五前`, `in 3 business days`, `EOM`, `Dec 5 at 3pm`.",
    "help_hint": "`/promise help` lists everything I can do.",
    "note_status": "I could not read that check-in. Write it like {usage_status}.",
    "note_percent": "{percent}% is more than done: progress is 0 to 100%.",
    "note_move_when": "Say the new date and why, like {usage_move}.",
    "note_move_why": "Say why it moves, like {usage_move}.",
    "note_mistake": "A mistake needs the client, what went wrong and the step that stops it "
                    "happening again, like {usage_mistake}.",
    # Lists.
    "mine_heading": "Your open promises",
    "mine_empty": "You have no open promises. Log one with "
                  "`/promise Q3 report for Acme by Friday`.",
    "team_heading": "Your team's open promises ({count} people)",
    "team_empty": "Your team has no open promises.",
    "team_nobody": "Nobody reports to you in Reliability, so there is no team list. "
                   "`/promise list` shows your own promises.",
    "list_line": "#{id} *{title}* · {client} · due {due} · {level}",
    "level_on_track": ":large_green_circle: on track",
    "level_watch": ":large_yellow_circle: watch",
    "level_at_risk": ":large_orange_circle: at risk",
    "level_overdue": ":red_circle: overdue",
    # What a command did.
    "logged_promise": ":white_check_mark: Logged #{id}: *{title}* for {client}, due {due}, "
                      "owned by {who}. I'll check in before it's due.",
    "you": "you",
    "done": ":tada: #{id} *{title}* for {client} is done{late}.",
    "done_late": " (after the due date: it counts as late)",
    "moved": "Moved #{id} *{title}* to {due} (was {was}). Make sure {client} knows.",
    "mistake_logged": "Mistake #{id} logged for {client}.",
    "mistake_drafted": "A remediation message to {client} is drafted (#{id}) and waits for "
                       "your approval.",
    "mistake_prevention": "Prevention step #{id} is due {due}.",
    "mistake_repeat": ":warning: This is a repeat ({count} of this kind): your manager has "
                      "been told.",
    "watch_current": "This channel is watched for *{client}*. `/promise unwatch` stops it; "
                     "`/promise watch OtherClient` moves it.",
    "watch_already": "This channel is already watched for *{client}*.",
    "watching": ":eyes: Watching this channel for promises to *{client}*. When a member "
                "writes one here, I'll ask them (only them) whether to log it; a request "
                "from {client}'s people goes to you, or to the member they @mention. Nothing "
                "is stored unless someone clicks Log. Invite me with `/invite @Reliability` "
                "so Slack sends me the messages; `/promise unwatch` stops it.",
    "unwatch_none": "This channel was not watched; nothing changed.",
    "unwatched": "Stopped watching this channel for *{client}*: its messages are no longer "
                 "read.",
    # Forms.
    "date_title": "Change the date", "date_submit": "Use this date",
    "date_current": "*{title}*, now due {due}", "date_when": "When is it due?",
    "date_example": "next Tuesday 3pm, Dec 5, in 3 business days",
    "client_title": "New client", "client_submit": "Add client",
    "client_name": "Client name", "client_email": "Where client messages go (email)",
    "client_contact": "Who we write to", "client_locale": "Language of messages",
    "client_timezone": "Time zone (IANA, e.g. America/New_York)",
    "client_country": "Country for public holidays (e.g. US, SE, CN)",
    "save": "Save",
    "note_title": "Check-in note",
    "note_news": "What's the news? (the client never sees this)",
    "note_client": "What may the client be told? (goes into the delay letter)",
    "note_progress": "Roughly how far along (% done)?",
    "edit_title": "Edit the draft", "edit_text": "The message",
    "edit_date": "Proposed new date (end of that business day)",
    # Drafts waiting for their owner.
    "draft_head": "*Draft {kind} to {client}*",
    "draft_about": " about *{title}*",
    "draft_due": "Due now: {due}",
    "draft_proposed": "Proposed new date: *{due}*",
    "draft_waits": "Draft {kind} to {client} waits for you",
    "kind_delay_notice": "delay notice",
    "kind_mistake_remediation": "mistake remediation",
    "kind_promise_confirmation": "promise confirmation",
    "kind_request_acknowledgement": "request acknowledgement",
    "send": "Send", "edit": "Edit", "snooze": "Snooze", "not_needed": "Not needed",
    "approved": ":white_check_mark: Approved: it goes out with the next delivery round.",
    "draft_cancelled": ":wastebasket: Not needed: it will not be sent.",
    "snoozed": ":zzz: Snoozed until {until}: I'll bring it back then.",
    # Check-ins answered in Slack.
    "checkin_on_track": "on track", "checkin_at_risk": "at risk",
    "checkin_blocked": "blocked", "checkin_done": "done",
    "checkin_said": "You said *{status}* {when}.", "checkin_noted": "Add a note",
    "checkin_recorded": "Check-in recorded: {status}",
    "checkin_reply": "Check-in on #{id} *{title}*: {status}{progress}.",
    "checkin_progress": ", {percent} done",
    # Promises and requests found in conversations: the offer, its answers, its form.
    "commitment": "Log this promise to {client}, due {due}?",
    "commitment_undated": "Log this promise to {client}? It names no date: use *Change*.",
    "request": "{client} asked for *{title}*. Log a promise to reply by {due} and draft "
               "an acknowledgement for them?",
    "request_undated": "{client} asked for *{title}*. Log a promise to reply by the end "
                       "of the next business day and draft an acknowledgement for them?",
    "log": "Log", "change": "Change", "decline": "Not a promise",
    "logged": ":white_check_mark: Logged #{id}: *{title}* for {client}, due {due}.",
    "drafted": "The acknowledgement to {client} is drafted (#{id}) and waits for your "
               "approval.",
    "declined": "Noted: not a promise. I won't suggest *{title}* to you again.",
    "form_title": "Log a promise", "form_submit": "Log it", "form_cancel": "Cancel",
    "form_what": "What is promised", "form_client": "To which client",
    "form_when": "Due (e.g. Friday 5pm, 2026-12-04 17:00, in 3 business days)",
    # The same offer by email, when the member is not in Slack.
    "mail_greeting": "Hi {name},",
    "mail_link": "{label}: {url}",
    "mail_found": "In an email, we found: “{sentence}”",
    "mail_title": "What: “{title}”",
    "commitment_undated_mail": "Log this promise to {client}? It names no date: the page "
                               "behind the link asks you for one.",
    "mail_links": "Both links open a page that asks you to confirm; they work once, for "
                  "{days} days.",
    "mail_subject_commitment": "Log this promise? “{title}”",
    "mail_subject_request": "{client} asked for “{title}”: log it?",
    "from_email": "From an email: “{sentence}”",
}

_SV: dict[str, str] = {
    "echo_question": "Stämmer det här?",
    "echo_what": "*{title}* till *{client}*",
    "echo_due": "Leverans *{due}*",
    "echo_owner": "Ansvarig <@{user}>",
    "echo_text": "{title} till {client}, leverans {due}: stämmer det?",
    "looks_right": "Det stämmer",
    "promise_instead": "Lova {day} i stället",
    "change_date": "Ändra datum",
    "cancel": "Avbryt",
    "ambiguous": "”{matched}” kan också betyda {alternatives}: välj *Ändra datum* i så fall.",
    "forecast_chance": "{chance} ({percent} risk för försening): {reason}.",
    "forecast_likely": "{who} blir troligen klar senast {day} (så gick det för 80 % av "
                       "liknande löften).",
    "chance_0": "Hålls nästan säkert",
    "chance_1": "Hålls troligen",
    "chance_2": "Kan gå åt båda hållen",
    "chance_3": "Blir troligen försenat",
    "chance_4": "Blir nästan säkert försenat",
    "newcomer": "den ansvariga",
    "unknown_client": "*{name}* finns inte bland kunderna ännu. Lägg till kunden, så loggar "
                      "jag *{title}* med leverans {due} (i den nya kundens tidszon).",
    "unknown_client_text": "{name} är inte kund ännu",
    "add_client": "Lägg till {name} som kund",
    "cancelled": "Avbrutet: inget har loggats.",
    "none_yet": "inga ännu",
    "list_separator": ", ",
    "which_client": "Vilken kund gäller *{title}*? Skriv kundens namn på raden, t.ex. "
                    "`/promise {title} till Acme {matched}` (kunder: {known}).",
    "which_client_newcomer": "Vilken kund gäller *{title}*? Skriv kundens namn på raden, "
                             "t.ex. `/promise {title} till Acme {matched}`.",
    "no_title": "Jag hittade datumet ({due}) men inte vad som är lovat. Prova "
                "`/promise Q3-rapport till Acme senast fredag`.",
    "not_member": "<@{user}> är inte med i teamet ännu: logga först ett eget löfte, så "
                  "läggs du till, eller be en administratör lägga till dig. Sedan kan du "
                  "logga löften åt andra.",
    "too_long": "Raden är för lång för ett löfte: håll den till en mening, t.ex. "
                "`/promise Q3-rapport till Acme senast fredag`.",
    "add_client_first": "Lägg till kunden först.",
    "not_our_client": "{client} är inte en av teamets kunder: be någon i teamet lägga till "
                      "kunden och logga sedan löftet igen.",
    "mistake_client": "Börja med kundens namn, t.ex. `/promise mistake Acme fel i formeln; "
                      "förebygg: …` (kunder: {known}).",
    "mistake_what": "Skriv vad som gick fel för {client}, sedan `; förebygg:` och vad som ska "
                    "förhindra att det händer igen.",
    "watch_which": "Vilken kund gäller den här kanalen? Skriv `/promise bevaka Acme` "
                   "(kunder: {known}).",
    "say_what": "Skriv vad som är lovat.",
    "name_client": "Ange kunden.",
    "no_email": "Jag ser inte <@{user}>s e-postadress i Slack och vet därför inte vem i "
                "teamet det är. Be en administratör köra `reliability member add E-POST "
                "--name NAMN --slack-user {user}`.",
    "lookup_failed": "Jag kunde inte slå upp <@{user}> i Slack ({error}). Försök igen om "
                     "en minut.",
    "sorry": "Något gick fel hos oss och inget har ändrats. Försök igen om en minut. Om "
             "det fortsätter, säg till den som sköter Reliability.",
    "usage_done": "`/promise done 42`",
    "usage_status": "`/promise status 42 at-risk väntar på data` (on-track, at-risk, "
                    "blocked eller done; andel klart i % och en kommentar kan läggas till)",
    "usage_move": "`/promise move 42 till måndag eftersom underlaget kom sent`",
    "usage_mistake": "`/promise mistake Acme fel i formeln i rapporten; förebygg: en "
                     "andra person granskar ändrade formler`",
    "help": "*/promise* loggar och följer upp de löften du ger kunder.\n"
            "• `/promise Q3-rapport till Acme senast fredag`: logga ett löfte (du är "
            "ansvarig). Jag visar vad jag har förstått och sparar det när du klickar "
            "*Det stämmer*.\n"
            "• `/promise @karin Q3-rapport till Acme senast fredag`: logga det åt någon "
            "annan.\n"
            "• `/promise lista`: dina öppna löften och hur stor risken är.\n"
            "• `/promise teamet`: öppna löften för dem som rapporterar till dig.\n"
            "• {usage_done}: markera löfte #42 som levererat.\n"
            "• {usage_status}: en avstämning.\n"
            "• {usage_move}: flytta leveransdatumet.\n"
            "• {usage_mistake}: ta ansvar för ett misstag; ett utkast till ursäkt och ett "
            "förebyggande steg följer.\n"
            "• `/promise bevaka Acme`: i en kanal med Acme (även Slack Connect) erbjuder "
            "jag mig att logga löften och önskemål som skrivs där; `/promise sluta bevaka` "
            "avslutar.\n"
            "• Meddelandemenyn → *Log as promise*: logga ett löfte från ett meddelande.\n"
            "• `/promise hjälp`: den här listan.\n"
            "Datum kan skrivas på svenska, engelska eller kinesiska: `senast fredag`, "
            "`by Friday`, `周五前`, `om 3 arbetsdagar`, `5 dec kl. 15`.",
    "help_hint": "`/promise hjälp` visar allt jag kan göra.",
    "note_status": "Jag kunde inte läsa avstämningen. Skriv den som {usage_status}.",
    "note_percent": "Andelen klart kan vara 0–100 %, inte {percent} %.",
    "note_move_when": "Skriv det nya datumet och varför, t.ex. {usage_move}.",
    "note_move_why": "Skriv varför datumet flyttas, t.ex. {usage_move}.",
    "note_mistake": "Ett misstag behöver kunden, vad som gick fel och vad som ska förhindra "
                    "att det händer igen, t.ex. {usage_mistake}.",
    "mine_heading": "Dina öppna löften",
    "mine_empty": "Du har inga öppna löften. Logga ett med "
                  "`/promise Q3-rapport till Acme senast fredag`.",
    "team_heading": "Ditt teams öppna löften ({count} personer)",
    "team_empty": "Ditt team har inga öppna löften.",
    "team_nobody": "Ingen rapporterar till dig i Reliability, så det finns ingen teamlista. "
                   "`/promise lista` visar dina egna löften.",
    "list_line": "#{id} *{title}* · {client} · leverans {due} · {level}",
    "level_on_track": ":large_green_circle: enligt plan",
    "level_watch": ":large_yellow_circle: håll koll",
    "level_at_risk": ":large_orange_circle: i riskzonen",
    "level_overdue": ":red_circle: försenat",
    "logged_promise": ":white_check_mark: Loggat #{id}: *{title}* till {client}, leverans "
                      "{due}, ansvarig: {who}. Jag stämmer av före leveransdatumet.",
    "you": "du",
    "done": ":tada: #{id} *{title}* till {client} är levererat{late}.",
    "done_late": " (efter leveransdatumet, så det räknas som försenat)",
    "moved": "#{id} *{title}* är flyttat till {due} (var {was}). Se till att {client} får "
             "veta det.",
    "mistake_logged": "Misstag #{id} är loggat för {client}.",
    "mistake_drafted": "En ursäkt till {client} ligger som utkast (#{id}) och väntar på "
                       "ditt godkännande.",
    "mistake_prevention": "Det förebyggande steget #{id} ska vara klart {due}.",
    "mistake_repeat": ":warning: Det här har hänt förut ({count} gånger nu): din chef har "
                      "fått veta det.",
    "watch_current": "Den här kanalen bevakas för *{client}*. `/promise sluta bevaka` "
                     "avslutar; `/promise bevaka AnnanKund` byter kund.",
    "watch_already": "Den här kanalen bevakas redan för *{client}*.",
    "watching": ":eyes: Jag bevakar den här kanalen för löften till *{client}*. När någon "
                "i teamet skriver ett här frågar jag den personen (bara den) om det ska "
                "loggas; ett önskemål från {client} går till dig, eller till den som "
                "@nämns. Inget sparas förrän någon klickar Logga. Bjud in mig med "
                "`/invite @Reliability` så att Slack skickar meddelandena till mig; "
                "`/promise sluta bevaka` avslutar.",
    "unwatch_none": "Kanalen bevakades inte; inget har ändrats.",
    "unwatched": "Jag bevakar inte längre den här kanalen för *{client}*: meddelandena "
                 "läses inte.",
    "date_title": "Ändra datum", "date_submit": "Använd datumet",
    "date_current": "*{title}*, leverans nu {due}", "date_when": "När ska det levereras?",
    "date_example": "tisdag kl. 15, 5 december, om 3 arbetsdagar",
    "client_title": "Ny kund", "client_submit": "Lägg till",
    "client_name": "Kundens namn", "client_email": "Kundens e-post för meddelanden",
    "client_contact": "Kontaktperson", "client_locale": "Språk i meddelandena",
    "client_timezone": "Tidszon (IANA, t.ex. Europe/Stockholm)",
    "client_country": "Land för helgdagar (t.ex. SE, US, CN)",
    "save": "Spara",
    "note_title": "Kommentar",
    "note_news": "Vad är läget? (kunden ser aldrig detta)",
    "note_client": "Vad får kunden veta? (hamnar i förseningsbeskedet)",
    "note_progress": "Ungefär hur mycket är klart (%)?",
    "edit_title": "Redigera utkastet", "edit_text": "Meddelandet",
    "edit_date": "Föreslaget nytt datum (vid arbetsdagens slut)",
    "draft_head": "*Utkast: {kind} till {client}*",
    "draft_about": " om *{title}*",
    "draft_due": "Leverans nu: {due}",
    "draft_proposed": "Föreslaget nytt datum: *{due}*",
    "draft_waits": "Utkast att granska: {kind} till {client}",
    "kind_delay_notice": "förseningsbesked",
    "kind_mistake_remediation": "ursäkt",
    "kind_promise_confirmation": "bekräftelse",
    "kind_request_acknowledgement": "mottagningsbekräftelse",
    "send": "Skicka", "edit": "Redigera", "snooze": "Påminn senare",
    "not_needed": "Behövs inte",
    "approved": ":white_check_mark: Godkänt: det skickas vid nästa utskick.",
    "draft_cancelled": ":wastebasket: Behövs inte: det skickas inte.",
    "snoozed": ":zzz: Jag påminner dig igen {until}.",
    "checkin_on_track": "enligt plan", "checkin_at_risk": "i riskzonen",
    "checkin_blocked": "har fastnat", "checkin_done": "klart",
    "checkin_said": "Du svarade *{status}* {when}.", "checkin_noted": "Lägg till en kommentar",
    "checkin_recorded": "Avstämning sparad: {status}",
    "checkin_reply": "Avstämning för #{id} *{title}*: {status}{progress}.",
    "checkin_progress": ", {percent} klart",
    "commitment": "Logga löftet till {client} med leverans {due}?",
    "commitment_undated": "Logga löftet till {client}? Inget datum nämns: välj *Ändra*.",
    "request": "{client} bad om *{title}*. Logga ett löfte att svara senast {due} och "
               "förbereda en mottagningsbekräftelse?",
    "request_undated": "{client} bad om *{title}*. Logga ett löfte att svara före nästa "
                       "arbetsdags slut och förbereda en mottagningsbekräftelse?",
    "log": "Logga", "change": "Ändra", "decline": "Inget löfte",
    "logged": ":white_check_mark: Loggat #{id}: *{title}* till {client}, leverans {due}.",
    "drafted": "Mottagningsbekräftelsen till {client} ligger som utkast (#{id}) och väntar "
               "på ditt godkännande.",
    "declined": "Noterat: inget löfte. Jag föreslår inte *{title}* för dig igen.",
    "form_title": "Logga ett löfte", "form_submit": "Logga", "form_cancel": "Avbryt",
    "form_what": "Vad som är lovat", "form_client": "Till vilken kund",
    "form_when": "Leverans (t.ex. fredag kl. 17, 2026-12-04 17:00, om 3 arbetsdagar)",
    "mail_greeting": "Hej {name}!",
    "mail_link": "{label}: {url}",
    "mail_found": "I ett mejl hittade vi: ”{sentence}”",
    "mail_title": "Vad: ”{title}”",
    "commitment_undated_mail": "Logga löftet till {client}? Inget datum nämns: sidan "
                               "bakom länken frågar efter ett.",
    "mail_links": "Båda länkarna öppnar en sida där du bekräftar. Varje länk kan användas "
                  "en gång och gäller i {days} dagar.",
    "mail_subject_commitment": "Logga löftet? ”{title}”",
    "mail_subject_request": "{client} bad om ”{title}”: logga det?",
    "from_email": "Från ett mejl: ”{sentence}”",
}

_ZH: dict[str, str] = {
    "echo_question": "请确认以下信息：",
    "echo_what": "*{client}*：*{title}*",
    "echo_due": "截止时间：*{due}*",
    "echo_owner": "负责人：<@{user}>",
    "echo_text": "{client}：{title}，{due}截止。信息正确吗？",
    "looks_right": "确认无误",
    "promise_instead": "改为承诺{day}",
    "change_date": "修改日期",
    "cancel": "取消",
    "ambiguous": "“{matched}”也可能指{alternatives}；如果是，请点*修改日期*。",
    "forecast_chance": "{chance}（延误概率{percent}）：{reason}。",
    "forecast_likely": "{who}很可能在{day}前完成（80%的类似承诺都在这个时间之前完成）。",
    "chance_0": "几乎肯定能按时完成",
    "chance_1": "很可能按时完成",
    "chance_2": "按时与否难以判断",
    "chance_3": "很可能延误",
    "chance_4": "几乎肯定会延误",
    "newcomer": "负责人",
    "unknown_client": "*{name}*还不是您的客户。添加该客户后，我会记录*{title}*，"
                      "{due}截止（按新客户的时区）。",
    "unknown_client_text": "{name}还不是客户",
    "add_client": "添加客户{name}",
    "cancelled": "已取消，未记录任何内容。",
    "none_yet": "暂无",
    "list_separator": "、",
    "which_client": "*{title}*是给哪位客户的？请在命令中写明客户，例如 "
                    "`/promise {title} 给 Acme {matched}`（已有客户：{known}）。",
    "which_client_newcomer": "*{title}*是给哪位客户的？请在命令中写明客户，例如 "
                             "`/promise {title} 给 Acme {matched}`。",
    "no_title": "找到了截止时间（{due}），但没有看出承诺的内容。可以这样写："
                "`/promise Q3 报告 给 Acme 周五前`。",
    "not_member": "<@{user}>还不是团队成员：请先记录一项自己的承诺（系统会自动添加您），"
                  "或请管理员添加您，之后才能替他人记录。",
    "too_long": "这一行太长，不像一项承诺：请用一句话写明，例如 "
                "`/promise Q3 报告 给 Acme 周五前`。",
    "add_client_first": "请先添加客户。",
    "not_our_client": "{client}不是本团队的客户：请团队成员先添加该客户，再重新记录这项承诺。",
    "mistake_client": "请以客户名称开头，例如 `/promise mistake Acme 公式错误；预防：…`"
                      "（已有客户：{known}）。",
    "mistake_what": "请写明{client}这边出了什么问题，再写 `；预防：` 和预防措施。",
    "watch_which": "这个频道对应哪位客户？请输入 `/promise 关注 Acme`（已有客户：{known}）。",
    "say_what": "请写明承诺的内容。",
    "name_client": "请填写客户。",
    "no_email": "在Slack中看不到<@{user}>的邮箱，无法确定是哪位团队成员。请管理员运行 "
                "`reliability member add 邮箱 --name 姓名 --slack-user {user}`。",
    "lookup_failed": "无法在Slack中查询<@{user}>（{error}），请稍后再试。",
    "sorry": "系统出现问题，未做任何更改。请稍后再试；如果问题持续，请联系Reliability的管理员。",
    "usage_done": "`/promise done 42`",
    "usage_status": "`/promise status 42 at-risk 等数据`（状态为 on-track、at-risk、"
                    "blocked 或 done；完成百分比和备注可选）",
    "usage_move": "`/promise move 42 到 周一 因为 数据晚到`",
    "usage_mistake": "`/promise mistake Acme 报告公式错误；预防：公式修改由第二人复核`",
    "help": "*/promise* 用于记录并跟进您对客户的承诺。\n"
            "• `/promise Q3 报告 给 Acme 周五前`：记录一项承诺（由您负责）。我会先复述"
            "理解的内容，您点*确认无误*后才保存。\n"
            "• `/promise @dana Q3 报告 给 Acme 周五前`：替他人记录。\n"
            "• `/promise list`：您未完成的承诺及其风险。\n"
            "• `/promise team`：您下属未完成的承诺。\n"
            "• {usage_done}：将承诺#42标为已交付。\n"
            "• {usage_status}：更新进度。\n"
            "• {usage_move}：改期。\n"
            "• {usage_mistake}：登记一次差错，随后会生成差错说明草稿和一项预防措施。\n"
            "• `/promise 关注 Acme`：在与Acme的频道（包括Slack Connect频道）中，"
            "提示记录其中写下的承诺和请求；`/promise 取消关注` 停止。\n"
            "• 消息菜单 → *Log as promise*：从任意消息记录承诺。\n"
            "• `/promise 帮助`：显示本列表。\n"
            "截止时间可用中文、英文或瑞典文书写：`周五前`、`3个工作日内`、`by Friday`、"
            "`senast fredag`、`12月5日15:00`。",
    "help_hint": "`/promise 帮助` 可查看全部用法。",
    "note_status": "没能读懂这条进度更新。请按这样写：{usage_status}。",
    "note_percent": "{percent}%超过了100%：进度应在0到100%之间。",
    "note_move_when": "请写明新日期和原因，例如 {usage_move}。",
    "note_move_why": "请写明改期原因，例如 {usage_move}。",
    "note_mistake": "登记差错需要写明客户、出了什么问题以及防止再次发生的措施，例如 "
                    "{usage_mistake}。",
    "mine_heading": "您未完成的承诺",
    "mine_empty": "您目前没有未完成的承诺。可以这样记录：`/promise Q3 报告 给 Acme 周五前`。",
    "team_heading": "您团队未完成的承诺（{count}人）",
    "team_empty": "您的团队目前没有未完成的承诺。",
    "team_nobody": "在Reliability中没有人向您汇报，因此没有团队列表。"
                   "`/promise list` 可查看您自己的承诺。",
    "list_line": "#{id} *{title}* · {client} · {due}截止 · {level}",
    "level_on_track": ":large_green_circle: 正常",
    "level_watch": ":large_yellow_circle: 需关注",
    "level_at_risk": ":large_orange_circle: 有风险",
    "level_overdue": ":red_circle: 已逾期",
    "logged_promise": ":white_check_mark: 已记录 #{id}：{client}的*{title}*，{due}截止，"
                      "负责人：{who}。截止前我会来询问进度。",
    "you": "您",
    "done": ":tada: #{id} {client}的*{title}*已完成{late}。",
    "done_late": "（已过截止时间，计为延误）",
    "moved": "已将 #{id} *{title}* 改到{due}（原为{was}）。请务必告知{client}。",
    "mistake_logged": "已为{client}登记差错 #{id}。",
    "mistake_drafted": "给{client}的差错说明已起草（#{id}），待您批准。",
    "mistake_prevention": "预防措施 #{id} 的截止时间为{due}。",
    "mistake_repeat": ":warning: 同类差错已是第{count}次，已告知您的上级。",
    "watch_current": "这个频道正在为*{client}*关注承诺。`/promise 取消关注` 可停止；"
                     "`/promise 关注 其他客户` 可更换客户。",
    "watch_already": "这个频道已经在为*{client}*关注承诺。",
    "watching": ":eyes: 已开始为*{client}*关注这个频道中的承诺。团队成员在这里写下承诺时，"
                "我会单独询问本人是否记录；{client}方提出的请求会交给您，或交给对方@提到的"
                "成员。只有点了“记录”才会保存。请用 `/invite @Reliability` 邀请我加入，"
                "Slack才会把消息发给我；`/promise 取消关注` 可停止。",
    "unwatch_none": "这个频道没有被关注，未做任何更改。",
    "unwatched": "已停止为*{client}*关注这个频道，不再读取其中的消息。",
    "date_title": "修改日期", "date_submit": "使用此日期",
    "date_current": "*{title}*，当前{due}截止", "date_when": "什么时候截止？",
    "date_example": "下周二15:00、12月5日、3个工作日内",
    "client_title": "新客户", "client_submit": "添加客户",
    "client_name": "客户名称", "client_email": "客户接收消息的邮箱",
    "client_contact": "联系人", "client_locale": "消息语言",
    "client_timezone": "时区（IANA格式，例如 Asia/Shanghai）",
    "client_country": "法定节假日所在国家（例如 CN、US、SE）",
    "save": "保存",
    "note_title": "进度说明",
    "note_news": "最新情况？（客户不会看到）",
    "note_client": "可以告诉客户什么？（会写入延期通知）",
    "note_progress": "大约完成了百分之多少？",
    "edit_title": "编辑草稿", "edit_text": "消息内容",
    "edit_date": "建议的新日期（当天下班前）",
    "draft_head": "*给{client}的{kind}草稿*",
    "draft_about": "，关于*{title}*",
    "draft_due": "当前截止：{due}",
    "draft_proposed": "建议新日期：*{due}*",
    "draft_waits": "给{client}的{kind}草稿待您处理",
    "kind_delay_notice": "延期通知",
    "kind_mistake_remediation": "差错说明",
    "kind_promise_confirmation": "承诺确认",
    "kind_request_acknowledgement": "确认回复",
    "send": "发送", "edit": "编辑", "snooze": "稍后提醒", "not_needed": "不需要",
    "approved": ":white_check_mark: 已批准，将在下一轮发送。",
    "draft_cancelled": ":wastebasket: 不需要，不会发送。",
    "snoozed": ":zzz: 已推迟到{until}，届时再提醒您。",
    "checkin_on_track": "进展正常", "checkin_at_risk": "有延误风险", "checkin_blocked": "受阻",
    "checkin_done": "已完成",
    "checkin_said": "您的回答：*{status}*（{when}）。", "checkin_noted": "补充说明",
    "checkin_recorded": "进度已记录：{status}",
    "checkin_reply": "#{id} *{title}* 进度已记录：{status}{progress}。",
    "checkin_progress": "，已完成{percent}",
    "commitment": "要记录这项对{client}的承诺吗？{due}截止。",
    "commitment_undated": "要记录这项对{client}的承诺吗？原话没有提到日期，请点*修改*补上。",
    "request": "{client}提出请求：*{title}*。要记录一项承诺，在{due}前答复，并起草一封"
               "确认回复吗？",
    "request_undated": "{client}提出请求：*{title}*。要记录一项承诺，在下一个工作日结束前"
                       "答复，并起草一封确认回复吗？",
    "log": "记录", "change": "修改", "decline": "不是承诺",
    "logged": ":white_check_mark: 已记录 #{id}：{client}的*{title}*，{due}截止。",
    "drafted": "给{client}的确认回复已起草（#{id}），待您批准。",
    "declined": "好的，不算承诺。以后不会再就*{title}*提醒您。",
    "form_title": "记录承诺", "form_submit": "记录", "form_cancel": "取消",
    "form_what": "承诺内容", "form_client": "客户",
    "form_when": "截止时间（例如：周五17:00、2026-12-04 17:00、3个工作日内）",
    "mail_greeting": "{name}，您好！",
    "mail_link": "{label}：{url}",
    "mail_found": "我们在一封邮件中看到：“{sentence}”",
    "mail_title": "内容：“{title}”",
    "commitment_undated_mail": "要记录这项对{client}的承诺吗？原话没有提到日期，"
                               "打开链接后可以补上。",
    "mail_links": "两个链接都会打开一个确认页面；每个链接只能用一次，{days}天内有效。",
    "mail_subject_commitment": "要记录这项承诺吗？“{title}”",
    "mail_subject_request": "{client}提出请求“{title}”：要记录吗？",
    "from_email": "来自邮件：“{sentence}”",
}

WORDS: dict[str, dict[str, str]] = {"en": _EN, "sv": _SV, "zh": _ZH}
# How each locale writes a due moment in a reply: 'Thu 3 Dec 17:00', 'tors 3 dec. kl. 17.00',
# '12月3日（周四）17:00'; the year only when it is not this year's.
_WHEN = {"en": "EEE d MMM HH:mm", "sv": "EEE d MMM 'kl.' HH.mm", "zh": "M月d日（E）HH:mm"}
_WHEN_YEAR = {"en": "EEE d MMM y HH:mm", "sv": "EEE d MMM y 'kl.' HH.mm",
              "zh": "y年M月d日（E）HH:mm"}


def language(locale: str | None) -> str:
    """'sv-SE', 'zh_Hans' or 'sv' to a locale with words here; English for any other."""
    short = (locale or "en").replace("_", "-").split("-")[0].lower()
    return short if short in WORDS else "en"


def words(locale: str | None) -> dict[str, str]:
    """Every sentence in the reader's language."""
    return WORDS[language(locale)]


def say(locale: str | None, key: str, **facts: object) -> str:
    """One sentence in the reader's language, its placeholders filled."""
    table = words(locale)
    return table[key].format(**{name: table[name] for name in _USAGES} | facts)


# The examples of sub-commands that help and the notes on a wrong line quote.
_USAGES = ("usage_done", "usage_status", "usage_move", "usage_mistake")


def when(moment: datetime, timezone: str, locale: str | None, *,
         now: datetime | None = None) -> str:
    """A due moment in `timezone`, the reader's way (see `_WHEN`)."""
    lang = language(locale)
    local = moment.astimezone(ZoneInfo(timezone))
    this_year = now is None or now.astimezone(ZoneInfo(timezone)).year == local.year
    pattern = (_WHEN if this_year else _WHEN_YEAR)[lang]
    return format_datetime(local.replace(tzinfo=None), pattern, locale=lang)
