# Die Telefonseiten des Demo-Anbieters, auf Deutsch. Gleiche Meldungen wie locales/en/phone.ftl.

page-title = { $page } - Demo-Anmeldung
demo-badge = Demo
page-header = tvsignin-Anmeldung
page-footer = Dies ist ein in tvsignin eingebauter Demo-Anbieter, nicht für den Produktivbetrieb: Die Passwörter seiner eingebauten Benutzer werden auf dieser Seite angezeigt.
button-continue = Weiter
button-start-again = Neu beginnen

# Schritt 1: der Code.
code-title = Code eingeben
code-heading = Auf dem Fernseher anmelden
code-label = Code
code-hint-empty = Geben Sie den Code ein, der auf dem Fernseher angezeigt wird.
code-hint-check = Prüfen Sie, ob dies der Code ist, der auf dem Fernseher angezeigt wird.

# Schritt 2: wer sich anmeldet und ob es erlaubt wird.
consent-title = Auf dem Fernseher anmelden?
device-name = tvsignin-Fernseher
consent-device = { $device } möchte sich anmelden.
consent-code = Code { $code }
consent-issued-now = Gerade eben ausgestellt (um { $at }).
consent-issued-seconds = { $count ->
    [one] Vor einer Sekunde ausgestellt (um { $at }).
   *[other] Vor { $count } Sekunden ausgestellt (um { $at }).
}
consent-issued-minutes = { $count ->
    [one] Vor einer Minute ausgestellt (um { $at }).
   *[other] Vor { $count } Minuten ausgestellt (um { $at }).
}
consent-expires-now = Der Code läuft gleich ab.
consent-expires-seconds = { $count ->
    [one] Der Code läuft in einer Sekunde ab.
   *[other] Der Code läuft in { $count } Sekunden ab.
}
consent-expires-minutes = { $count ->
    [one] Der Code läuft in einer Minute ab.
   *[other] Der Code läuft in { $count } Minuten ab.
}
consent-warning = Fahren Sie nur fort, wenn Sie dies selbst auf dem Fernseher vor Ihnen gestartet haben.
label-user = Anmelden als
label-password = Passwort
button-allow = Zulassen
button-deny = Ablehnen
accounts-caption = Demo-Konten:
accounts-name = Name
accounts-user = Benutzer
accounts-password = Passwort
password-not-shown = nicht angezeigt

# Das Ende.
result-signed-in-title = Angemeldet
result-signed-in = Sie sind auf dem Fernseher angemeldet. Sie können diese Seite schließen.
result-declined-title = Anmeldung abgelehnt
result-declined = Anmeldung abgelehnt. Der Fernseher wurde nicht angemeldet. Sie können diese Seite schließen.
result-who = Angemeldet als { $name }.

# Was schiefging und was zu tun ist.
error-unavailable-title = Bitte später erneut versuchen
error-unavailable = Die Demo-Anmeldung ist gerade nicht verfügbar.
error-too-many-tries-title = Zu viele Versuche
error-too-many-tries = Zu viele Versuche von dieser Netzwerkadresse. Warten Sie eine Minute und versuchen Sie es dann erneut.
error-cookies-title = Cookies erforderlich
error-cookies = Diese Seite braucht Cookies, um Ihre Anmeldung zu schützen. Erlauben Sie Cookies für diese Website und beginnen Sie dann neu.
error-expired-form-title = Neu beginnen
error-expired-form = Dieses Formular ist abgelaufen oder stammt nicht von dieser Seite. Beginnen Sie neu.
error-unknown-step = Etwas ist schiefgelaufen. Beginnen Sie neu.
error-code-empty = Geben Sie den Code ein, der auf dem Fernseher angezeigt wird.
error-code-wrong = Dieser Code stimmt nicht. Prüfen Sie den Code auf dem Fernseher und versuchen Sie es erneut.
error-code-expired = Dieser Code ist abgelaufen. Beginnen Sie auf dem Fernseher neu, um einen neuen Code zu erhalten.
error-code-used = Dieser Code wurde bereits verwendet. Beginnen Sie auf dem Fernseher neu, wenn Sie sich noch anmelden möchten.
error-too-many-wrong = { $minutes ->
    [one] Zu viele falsche Codes. Warten Sie eine Minute und versuchen Sie es dann erneut.
   *[other] Zu viele falsche Codes. Warten Sie { $minutes } Minuten und versuchen Sie es dann erneut.
}
error-code-not-usable-title = Code nicht verwendbar
error-password-empty-public = Geben Sie das Passwort ein (die Demo-Passwörter stehen unten).
error-password-empty = Geben Sie das Passwort ein.
error-password-wrong-public = Falsches Passwort. Die Demo-Passwörter stehen unten.
error-password-wrong = Falsches Passwort.
error-pick-user = Wählen Sie einen der Demo-Benutzer.
error-choose = Wählen Sie „Zulassen“ oder „Ablehnen“.
