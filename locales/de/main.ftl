# Die TV-Seite auf Deutsch.

page-title = Anmelden
page-title-org = Anmelden · { $org }
app-name = tvsignin
demo-badge = Demo

home-title = Auf diesem Fernseher anmelden
home-lead = Melden Sie sich mit Ihrem Telefon bei Ihrem { $provider }-Konto an.
button-sign-in = Anmelden
button-new-code = Neuer Code
button-cancel = Abbrechen
button-sign-out = Abmelden

step-scan = Scannen Sie auf Ihrem Telefon den QR-Code oder öffnen Sie
step-enter = und geben Sie diesen Code ein:
user-code-label = Code: { $spoken }
qr-label = QR-Code des Anmeldelinks
code-expires = Code läuft ab in { $time }
phishing-warning = Damit wird dieser Fernseher bei Ihrem Konto angemeldet. Fahren Sie nur fort, wenn Sie vor diesem Fernseher stehen.
phishing-warning-org = Damit wird dieser Fernseher bei Ihrem { $org }-Konto angemeldet. Fahren Sie nur fort, wenn Sie vor diesem Fernseher stehen.

outcome-starting = Code wird angefordert…
outcome-denied = Die Anmeldung wurde auf dem Telefon abgelehnt.
outcome-expired = Dieser Code ist abgelaufen. Fordern Sie einen neuen an, um es erneut zu versuchen.
outcome-throttled = Zu viele neue Codes in kurzer Zeit. Versuchen Sie es gleich noch einmal.
outcome-unreachable = Der Anmeldedienst ist nicht erreichbar, neuer Versuch läuft…

status-idle = Drücken Sie „Anmelden“, um zu beginnen.
status-starting = Code wird angefordert…
status-waiting = Warten auf Ihre Anmeldung am Telefon…
status-denied = Die Anmeldung wurde abgelehnt.
status-expired = Dieser Code ist abgelaufen.
status-unreachable = Der Anmeldedienst ist nicht erreichbar, neuer Versuch läuft…
status-throttled = Zu viele neue Codes. Versuchen Sie es in { $time } erneut.
status-signed-in = Angemeldet.

welcome = Willkommen, { $name }
claims-caption = Ihr Profil
idle-warning = Abmeldung in { $time }. Drücken Sie eine beliebige Taste, um angemeldet zu bleiben.

# Der angemeldete Bildschirm mit einer App, zu der es weitergeht (APP_URL).
button-continue = Weiter
continue-note = { $seconds ->
    [0] Weiter zur App…
    [one] In einer Sekunde geht es weiter zur App…
   *[other] In { $seconds } Sekunden geht es weiter zur App…
}

# Die Seite, auf die eine App verlinkt, um den Fernseher abzumelden.
sign-out-page-title = Abmelden
sign-out-question = Diesen Fernseher abmelden?
signed-in-as = Angemeldet als { $name }
button-back-to-app = Zurück zur App
not-signed-in = Dieser Fernseher ist nicht angemeldet

# Was die TV-Seite sagt, wenn ihr erstes Laden fehlschlägt.
error-no-session = Dieser Bildschirm braucht Cookies für die Anmeldung. Laden Sie die Seite neu.
error-internal = Etwas ist schiefgelaufen. Versuchen Sie es gleich noch einmal.
