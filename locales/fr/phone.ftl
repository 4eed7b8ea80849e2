# Les pages téléphone du fournisseur de démonstration, en français.

page-title = { $page } - Connexion de démonstration
demo-badge = Démo
page-header = Connexion tvsignin
page-footer = Ceci est un fournisseur de démonstration intégré à tvsignin, à ne pas utiliser en production : les mots de passe de ses utilisateurs intégrés sont affichés sur cette page.
button-continue = Continuer
button-start-again = Recommencer

# Étape 1 : le code.
code-title = Saisir le code
code-heading = Se connecter sur la télévision
code-label = Code
code-hint-empty = Saisissez le code affiché sur la télévision.
code-hint-check = Vérifiez qu’il s’agit bien du code affiché sur la télévision.

# Étape 2 : qui se connecte, et l’autorisation.
consent-title = Se connecter sur la télévision ?
device-name = La télévision tvsignin
consent-device = { $device } demande à se connecter.
consent-code = Code { $code }
consent-issued-now = Émis à l’instant (à { $at }).
consent-issued-seconds = { $count ->
    [one] Émis il y a { $count } seconde (à { $at }).
   *[other] Émis il y a { $count } secondes (à { $at }).
}
consent-issued-minutes = { $count ->
    [one] Émis il y a { $count } minute (à { $at }).
   *[other] Émis il y a { $count } minutes (à { $at }).
}
consent-expires-now = Le code expire dans un instant.
consent-expires-seconds = { $count ->
    [one] Le code expire dans { $count } seconde.
   *[other] Le code expire dans { $count } secondes.
}
consent-expires-minutes = { $count ->
    [one] Le code expire dans { $count } minute.
   *[other] Le code expire dans { $count } minutes.
}
consent-warning = Ne continuez que si vous avez lancé cette connexion sur la télévision qui est devant vous.
label-user = Se connecter en tant que
label-password = Mot de passe
button-allow = Autoriser
button-deny = Refuser
accounts-caption = Comptes de démonstration :
accounts-name = Nom
accounts-user = Identifiant
accounts-password = Mot de passe
password-not-shown = non affiché

# La fin.
result-signed-in-title = Connexion réussie
result-signed-in = La télévision est connectée. Vous pouvez fermer cette page.
result-declined-title = Connexion refusée
result-declined = Connexion refusée. La télévision n’a pas été connectée. Vous pouvez fermer cette page.
result-who = Compte utilisé : { $name }.

# Ce qui n’a pas marché, et que faire.
error-unavailable-title = Réessayez plus tard
error-unavailable = La connexion de démonstration n’est pas disponible pour le moment.
error-too-many-tries-title = Trop de tentatives
error-too-many-tries = Trop de tentatives depuis cette adresse réseau. Patientez une minute, puis réessayez.
error-cookies-title = Cookies nécessaires
error-cookies = Cette page a besoin des cookies pour protéger votre connexion. Autorisez les cookies pour ce site, puis recommencez.
error-expired-form-title = Recommencer
error-expired-form = Ce formulaire a expiré ou ne provient pas de cette page. Recommencez.
error-unknown-step = Un problème est survenu. Recommencez.
error-code-empty = Saisissez le code affiché sur la télévision.
error-code-wrong = Ce code n’est pas correct. Vérifiez le code sur la télévision et réessayez.
error-code-expired = Ce code a expiré. Recommencez sur la télévision pour en obtenir un nouveau.
error-code-used = Ce code a déjà été utilisé. Recommencez sur la télévision si vous devez encore vous connecter.
error-too-many-wrong = { $minutes ->
    [one] Trop de codes erronés. Patientez { $minutes } minute, puis réessayez.
   *[other] Trop de codes erronés. Patientez { $minutes } minutes, puis réessayez.
}
error-code-not-usable-title = Code inutilisable
error-password-empty-public = Saisissez le mot de passe (les mots de passe de démonstration figurent ci-dessous).
error-password-empty = Saisissez le mot de passe.
error-password-wrong-public = Mot de passe incorrect. Les mots de passe de démonstration figurent ci-dessous.
error-password-wrong = Mot de passe incorrect.
error-pick-user = Choisissez l’un des utilisateurs de démonstration.
error-choose = Choisissez « Autoriser » ou « Refuser ».
