# La page de la télévision, en français.

page-title = Connexion
page-title-org = Connexion · { $org }
app-name = tvsignin
demo-badge = Démo

home-title = Se connecter sur cette télévision
home-lead = Utilisez votre téléphone pour vous connecter avec votre compte { $provider }.
button-sign-in = Se connecter
button-new-code = Nouveau code
button-cancel = Annuler
button-sign-out = Se déconnecter

step-scan = Sur votre téléphone, scannez le code QR ou allez sur
step-enter = puis saisissez ce code :
user-code-label = Code : { $spoken }
qr-label = Code QR du lien de connexion
code-expires = Le code expire dans { $time }
phishing-warning = Cette action connecte cette télévision à votre compte. Ne continuez que si vous êtes devant cette télévision.
phishing-warning-org = Cette action connecte cette télévision à votre compte { $org }. Ne continuez que si vous êtes devant cette télévision.

outcome-starting = Obtention d’un code…
outcome-denied = La connexion a été refusée sur le téléphone.
outcome-expired = Ce code a expiré. Demandez-en un nouveau pour réessayer.
outcome-throttled = Trop de nouveaux codes en peu de temps. Réessayez dans un instant.
outcome-unreachable = Le service de connexion est injoignable, nouvel essai en cours…

status-idle = Appuyez sur « Se connecter » pour commencer.
status-starting = Obtention d’un code…
status-waiting = En attente de votre connexion sur le téléphone…
status-denied = La connexion a été refusée.
status-expired = Ce code a expiré.
status-unreachable = Le service de connexion est injoignable, nouvel essai en cours…
status-throttled = Trop de nouveaux codes. Réessayez dans { $time }.
status-signed-in = Connecté.

welcome = Bienvenue, { $name }
claims-caption = Votre profil
idle-warning = Déconnexion dans { $time }. Appuyez sur une touche pour rester connecté.

# L'écran connecté, avec une application où aller ensuite (APP_URL).
button-continue = Continuer
continue-note = { $seconds ->
    [0] Redirection vers l'application…
    [one] Redirection vers l'application dans { $seconds } seconde…
   *[other] Redirection vers l'application dans { $seconds } secondes…
}

# La page vers laquelle une application renvoie pour déconnecter le téléviseur.
sign-out-page-title = Se déconnecter
sign-out-question = Déconnecter ce téléviseur ?
signed-in-as = Connecté en tant que { $name }
button-back-to-app = Retour à l'application
not-signed-in = Ce téléviseur n'est pas connecté

# Ce que dit la page de la télévision quand son premier chargement échoue.
error-no-session = Cet écran a besoin des cookies pour la connexion. Rechargez la page.
error-internal = Un problème est survenu. Réessayez dans un instant.
